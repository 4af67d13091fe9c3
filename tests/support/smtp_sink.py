#!/usr/bin/python3
"""A capturing SMTP server for tests (plain text, loopback only).

    /usr/bin/python3 tests/support/smtp_sink.py --port 0 --dir DIR [--exit-on-stdin-eof]

Binds 127.0.0.1 (port 0 picks a free port) and prints "listening PORT" as its first line
on stdout. Each accepted message is saved as DIR/<n>.eml (n = 1, 2, ...; the file appears
whole, before the server answers 250). Recipients whose local part starts with "tempfail"
get "451 4.3.0 try later", with "reject" "550 5.1.1 no such user"; "flakyN" (N a digit)
gets 451 for its first N attempts and is accepted after that. AUTH PLAIN and LOGIN are
offered without TLS and accept any credentials. Stops on SIGTERM or SIGINT, and with
--exit-on-stdin-eof also when stdin closes (so it dies with the test that started it).

Needs the Debian package python3-aiosmtpd (scripts/install-deps installs it).
"""

import argparse
import asyncio
import logging
import os
import pathlib
import signal
import sys

from aiosmtpd.smtp import SMTP, AuthResult


class Sink:
    """aiosmtpd handler: refuses the magic recipients, saves everything else."""

    def __init__(self, folder: pathlib.Path):
        self.folder = folder
        self.next_number = 1
        self.refused = {}  # flaky address -> 451 answers given so far

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local_part = address.split("@", 1)[0].lower()
        if local_part.startswith("tempfail"):
            return "451 4.3.0 try later"
        if local_part.startswith("reject"):
            return "550 5.1.1 no such user"
        if local_part.startswith("flaky") and local_part[5:6].isdigit():
            given = self.refused.get(address.lower(), 0)
            if given < int(local_part[5]):
                self.refused[address.lower()] = given + 1
                return "451 4.3.0 try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        while (self.folder / f"{self.next_number}.eml").exists():
            self.next_number += 1
        number = self.next_number
        self.next_number += 1

        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8", "surrogateescape")
        final = self.folder / f"{number}.eml"
        partial = self.folder / f".{number}.eml.tmp"
        partial.write_bytes(content)
        os.replace(partial, final)
        return f"250 2.0.0 OK queued as {number}"


def accept_any_credentials(server, session, envelope, mechanism, auth_data):
    return AuthResult(success=True)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Sets `stop` once stdin reaches its end (the parent closed it or died)."""
    stdin = sys.stdin.fileno()

    def on_readable() -> None:
        if not os.read(stdin, 4096):
            loop.remove_reader(stdin)
            stop.set()

    loop.add_reader(stdin, on_readable)


async def serve(port: int, folder: pathlib.Path, exit_on_stdin_eof: bool) -> None:
    loop = asyncio.get_running_loop()
    handler = Sink(folder)

    def protocol() -> SMTP:
        return SMTP(
            handler,
            hostname="smtp-sink.localhost",
            auth_require_tls=False,
            authenticator=accept_any_credentials,
            loop=loop,
        )

    server = await loop.create_server(protocol, "127.0.0.1", port)
    bound_port = server.sockets[0].getsockname()[1]
    print(f"listening {bound_port}", flush=True)

    stop = asyncio.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signal_number, stop.set)
    if exit_on_stdin_eof:
        watch_stdin(loop, stop)

    await stop.wait()
    server.close()
    await server.wait_closed()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--dir", required=True, type=pathlib.Path, help="where .eml files go")
    parser.add_argument("--exit-on-stdin-eof", action="store_true",
                        help="stop when stdin closes")
    args = parser.parse_args()

    # aiosmtpd warns on every AUTH about its own deprecated login_data attribute.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    args.dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args.port, args.dir, args.exit_on_stdin_eof))
    return 0


if __name__ == "__main__":
    sys.exit(main())
