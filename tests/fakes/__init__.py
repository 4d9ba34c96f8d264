"""Recording fakes of the services the bot talks to, for tests: Slack's Web API and Socket Mode."""
