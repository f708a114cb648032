"""Container log files in the CRI format the kubelet reads:
`<RFC3339Nano timestamp> <stdout|stderr> <F|P> <content>` per line (P: a partial line, continued)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAX_LINE = 16 * 1024  # longer lines are split into partial records, as containerd does


def timestamp(moment: dt.datetime | None = None) -> str:
    """RFC 3339 with nanoseconds (Python has microseconds; padded)."""
    moment = (moment or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "000Z"


def parse_timestamp(text: str) -> dt.datetime:
    head, _, frac = text.rstrip("Z").partition(".")
    moment = dt.datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=dt.UTC)
    return moment + dt.timedelta(microseconds=int((frac + "000000")[:6]) if frac else 0)


@dataclass(frozen=True)
class LogLine:
    timestamp: str
    stream: str
    content: bytes  # a whole line, its newline included (none on an unterminated last line)


class LogWriter:
    """Appends one stream's output to a CRI log file (shared by stdout and stderr writers)."""

    def __init__(self, out: BinaryIO, stream: str) -> None:
        self.out = out
        self.stream = stream.encode()

    def write_record(self, content: bytes, full: bool) -> None:
        tag = b"F" if full else b"P"
        self.out.write(timestamp().encode() + b" " + self.stream + b" " + tag + b" " + content + b"\n")
        self.out.flush()

    async def copy(self, reader: asyncio.StreamReader) -> None:
        """Copy a pipe into the file until EOF."""
        pending = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            pending += chunk
            while True:
                newline = pending.find(b"\n")
                if newline < 0:
                    break
                line, pending = pending[:newline], pending[newline + 1 :]
                while len(line) > MAX_LINE:
                    self.write_record(line[:MAX_LINE], full=False)
                    line = line[MAX_LINE:]
                self.write_record(line, full=True)
            while len(pending) > MAX_LINE:
                self.write_record(pending[:MAX_LINE], full=False)
                pending = pending[MAX_LINE:]
        if pending:
            self.write_record(pending, full=False)


def parse_records(data: bytes) -> Iterator[tuple[str, str, bool, bytes]]:
    """(timestamp, stream, full, content) of each complete record in `data`."""
    for raw in data.split(b"\n"):
        if not raw:
            continue
        parts = raw.split(b" ", 3)
        if len(parts) < 3:
            continue
        content = parts[3] if len(parts) == 4 else b""
        yield parts[0].decode(), parts[1].decode(), parts[2] == b"F", content


class LogReader:
    """Reads a CRI log file incrementally, joining partial records into lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial: dict[str, tuple[str, bytes]] = {}

    def read(self, final: bool = False) -> list[LogLine]:
        """Lines completed since the last call; with `final`, also unterminated partial lines."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.offset)
                data = handle.read()
        except FileNotFoundError:
            data = b""
        end = data.rfind(b"\n") + 1  # only whole records; the rest is still being written
        self.offset += end
        lines: list[LogLine] = []
        for stamp, stream, full, content in parse_records(data[:end]):
            first, previous = self._partial.pop(stream, (stamp, b""))
            if full:
                lines.append(LogLine(first, stream, previous + content + b"\n"))
            else:
                self._partial[stream] = (first, previous + content)
        if final:
            for stream, (stamp, content) in sorted(self._partial.items()):
                lines.append(LogLine(stamp, stream, content))
            self._partial.clear()
        return lines
