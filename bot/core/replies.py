"""Platform-neutral replies: what the core says, before an adapter draws it.

The core never formats for Slack, Teams or a terminal. It returns a `Reply` made of
a few block kinds (heading, text, table, quote, note, file); each adapter turns
those into its own UI (Rich in the terminal, Block Kit in Slack, Adaptive Cards in
Teams). `Reply.as_text()` is the plain fallback every adapter can use.

`counted(n, noun)` words a count the way a person would: "1 answer", "19 answers".
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Note:
    """A muted aside: why something is hidden, what to do next."""

    text: str


@dataclass(frozen=True)
class Quote:
    """A verbatim answer, with who said it in aggregate terms only (never a person)."""

    text: str
    attribution: str = ""


@dataclass(frozen=True)
class Table:
    columns: list[str]
    rows: list[list[str]]
    caption: str = ""


@dataclass(frozen=True)
class File:
    """An attachment: an export or a chart."""

    name: str
    content: bytes
    mime: str
    title: str = ""


Block = Heading | Text | Note | Quote | Table | File


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and the noun in the number it takes: "1 answer", "0 answers", "3 answers".

    The plural is the noun with an "s" unless given ("reply" -> "replies")."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


@dataclass
class Reply:
    blocks: list[Block] = field(default_factory=list)
    #: True when only the asker should see it (Slack ephemeral, Teams 1:1).
    private: bool = True
    #: Where the "more" part starts: blocks from this index on are detail an adapter
    #: may put behind "more" (a thread or modal in Slack, a card action in Teams).
    #: None: everything is the first screen. An adapter that ignores it shows all.
    fold: int | None = None

    @property
    def first_screen(self) -> list[Block]:
        """The blocks to show at once."""
        return self.blocks if self.fold is None else self.blocks[: self.fold]

    @property
    def more(self) -> list[Block]:
        """The blocks an adapter may put behind "more"."""
        return [] if self.fold is None else self.blocks[self.fold :]

    def add(self, block: Block) -> Reply:
        self.blocks.append(block)
        return self

    def extend(self, other: Reply) -> Reply:
        """Append another reply's blocks; its fold, if any, becomes this reply's fold."""
        if other.fold is not None and self.fold is None:
            self.fold = len(self.blocks) + other.fold
        self.blocks.extend(other.blocks)
        return self

    @classmethod
    def text(cls, text: str, *, private: bool = True) -> Reply:
        return cls([Text(text)], private=private)

    @property
    def files(self) -> list[File]:
        return [b for b in self.blocks if isinstance(b, File)]

    def as_text(self) -> str:
        """Plain text, for logs, tests and platforms without rich layout."""
        parts: list[str] = []
        for index, block in enumerate(self.blocks):
            if index == self.fold and index < len(self.blocks):
                parts.append("-- more --")
            if isinstance(block, Heading):
                parts.append(f"== {block.text} ==")
            elif isinstance(block, Text):
                parts.append(block.text)
            elif isinstance(block, Note):
                parts.append(f"({block.text})")
            elif isinstance(block, Quote):
                suffix = f" — {block.attribution}" if block.attribution else ""
                parts.append(f"> “{block.text}”{suffix}")
            elif isinstance(block, Table):
                widths = [
                    max([len(c)] + [len(r[i]) for r in block.rows])
                    for i, c in enumerate(block.columns)
                ]
                lines = [" | ".join(c.ljust(w) for c, w in zip(block.columns, widths, strict=True))]
                lines.append("-+-".join("-" * w for w in widths))
                lines += [
                    " | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True))
                    for r in block.rows
                ]
                if block.caption:
                    lines.insert(0, block.caption)
                parts.append("\n".join(lines))
            elif isinstance(block, File):
                parts.append(f"[file: {block.name}]")
        return "\n\n".join(parts)
