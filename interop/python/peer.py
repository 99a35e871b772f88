"""Python's websockets (Debian's python3-websockets) against wsmem.

Driven by interop/external_test.go, with Debian's /usr/bin/python3:

  python3 peer.py client SPEC.json ws://HOST:PORT   run every scenario against wsmem's server
  python3 peer.py server SPEC.json                  one server per scenario; prints
                                                    PORTS {"id": port, ...}, runs until stdin ends

Each scenario ends with a line RESULT {"id","ok","errors","ext","close"}.
The steps and control messages are those of interop/agent_test.go.
websockets' legacy asyncio API shows no incoming pings, so a ping from
wsmem is checked on wsmem's side (its pong) and on the wire.
"""

import asyncio
import hashlib
import json
import random
import sys

import websockets
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)

RUNES = ["a", "Z", " ", "0", "é", "ß", "Ж", "✓", "€", "中", "😀", "𝄞"]
WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike "
    "november oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee "
    "zulu websocket frame deflate window context takeover message payload buffer header "
    "mask client server"
).split()
WAIT = 20  # seconds for any one event


def fit_utf8(b: bytes, n: int) -> bytes:
    """Cut b to n bytes on a rune boundary and pad with 'x' to exactly n."""
    b = b[:n]
    while True:
        try:
            b.decode("utf-8")
            break
        except UnicodeDecodeError:
            b = b[:-1]
    return b + b"x" * (n - len(b))


def gen(step) -> bytes:
    n = step.get("len", 0)
    r = random.Random(step.get("seed", 0))
    kind = step["gen"]
    if kind == "ascii":
        s = b"The quick brown fox jumps over the lazy dog. "
        return (s * (n // len(s) + 1))[:n]
    if kind == "random":
        return r.randbytes(n)
    if kind == "utf8":
        # Mixed 1- to 4-byte runes; a 64 KiB block repeated for large sizes.
        block = "".join(r.choices(RUNES, k=min(n, 1 << 16))).encode("utf-8")
        return fit_utf8(block * (n // max(1, len(block)) + 1), n)
    if kind == "zip":
        lines, size, i = [], 0, 0
        while size < n:
            w = lambda: r.choice(WORDS)  # noqa: E731
            note = " ".join(w() for _ in range(3 + r.randrange(12)))
            line = f'{{"id":{i},"user":"{w()}-{r.randrange(100)}","tags":["{w()}","{w()}"],"note":"{note} "}}\n'
            lines.append(line)
            size += len(line)
            i += 1
        return "".join(lines).encode()[:n]
    raise ValueError(f"unknown generator {kind}")


def describe_diff(got: bytes, want: bytes) -> str:
    i = 0
    n = min(len(got), len(want))
    while i < n and got[i] == want[i]:
        i += 1
    return (
        f"got {len(got)} bytes, want {len(want)}; first difference at byte {i}: "
        f"got [{got[i:i + 16].hex()}], want [{want[i:i + 16].hex()}]"
    )


def deflate_factory(d, server: bool):
    if d is None:
        return None
    args = dict(
        server_no_context_takeover=bool(d.get("serverNoContextTakeover")),
        client_no_context_takeover=bool(d.get("clientNoContextTakeover")),
        server_max_window_bits=d.get("serverMaxWindowBits") or None,
    )
    if server:
        return ServerPerMessageDeflateFactory(client_max_window_bits=d.get("clientMaxWindowBits") or None, **args)
    # Without a value, offer a bare client_max_window_bits.
    return ClientPerMessageDeflateFactory(client_max_window_bits=d.get("clientMaxWindowBits") or True, **args)


def report(sid, errors, ext, close):
    print("RESULT " + json.dumps({"id": sid, "ok": not errors, "errors": errors, "ext": ext, "close": close}), flush=True)


async def recv_bytes(ws):
    """The next message as (type, bytes); a close raises ConnectionClosed."""
    m = await asyncio.wait_for(ws.recv(), WAIT)
    if isinstance(m, str):
        return "text", m.encode("utf-8")
    return "binary", m


def text_fragments(payload: bytes, size: int):
    """Split a text message into str fragments of about size bytes (whole runes)."""
    s = payload.decode("utf-8")
    out, cur, cur_len = [], [], 0
    for ch in s:
        cur.append(ch)
        cur_len += len(ch.encode("utf-8"))
        if cur_len >= size:
            out.append("".join(cur))
            cur, cur_len = [], 0
    if cur:
        out.append("".join(cur))
    return out


async def run_steps(sc, ws):
    errors = []
    close = None
    exts = [e for e in ws.extensions if isinstance(e, PerMessageDeflate)]
    ext = repr(exts[0]) if exts else ""
    if bool(exts) != sc["expectDeflate"]:
        errors.append(f"websockets negotiated permessage-deflate: {bool(exts)}, want {sc['expectDeflate']} ({ext})")

    async def ctl(**kw):
        await ws.send(json.dumps(kw))

    try:
        for si, step in enumerate(sc["steps"]):
            op = step["op"]
            where = f"step {si} ({op} {step.get('type', '')} {step.get('gen', '')} {step.get('len', '')})"
            if op == "echo":
                payload = gen(step)
                digest = hashlib.sha256(payload).hexdigest()
                for _ in range(max(1, step.get("repeat", 0))):
                    await ctl(cmd="echo", type=step["type"], len=len(payload), sha256=digest, wsmemFrag=step.get("wsmemFrag", 0))
                    frag = step.get("frag", 0)
                    text = step["type"] == "text"
                    if frag and len(payload) > frag:
                        if text:
                            await ws.send(text_fragments(payload, frag))
                        else:
                            await ws.send([payload[i:i + frag] for i in range(0, len(payload), frag)])
                    else:
                        await ws.send(payload.decode("utf-8") if text else payload)
                    typ, got = await recv_bytes(ws)
                    if typ != step["type"]:
                        errors.append(f"{where}: echo is {typ}, want {step['type']}")
                    if got != payload:
                        errors.append(f"{where}: echo differs: {describe_diff(got, payload)}")
            elif op == "ping-peer":
                data = step.get("data", "")
                await ctl(cmd="expect-ping", data=data)
                waiter = await ws.ping(data.encode("utf-8"))
                await asyncio.wait_for(waiter, WAIT)  # resolves on the matching pong
                typ, got = await recv_bytes(ws)
                m = json.loads(got)
                if m.get("pinged") != data:
                    errors.append(f"{where}: wsmem reported {m}, want pinged {data!r}")
            elif op == "ping-wsmem":
                data = step.get("data", "")
                await ctl(cmd="ping", data=data)
                typ, got = await recv_bytes(ws)
                m = json.loads(got)
                if m.get("pong") != data:
                    errors.append(f"{where}: wsmem reported {m}, want pong {data!r}")
            elif op == "close-peer":
                await ctl(cmd="expect-close", code=step["code"], reason=step["reason"])
                await asyncio.wait_for(ws.close(step["code"], step["reason"]), WAIT)
                close = [ws.close_code, ws.close_reason]
                # wsmem answers with the code it received.
                if ws.close_code != step["code"]:
                    errors.append(f"{where}: wsmem answered close {ws.close_code} {ws.close_reason!r}, want {step['code']}")
                break
            elif op == "close-wsmem":
                await ctl(cmd="close", code=step["code"], reason=step["reason"])
                try:
                    typ, got = await recv_bytes(ws)
                    errors.append(f"{where}: got a {typ} message of {len(got)} bytes, want wsmem's close")
                except websockets.ConnectionClosed as e:
                    rcvd = e.rcvd
                    close = [rcvd.code, rcvd.reason] if rcvd else None
                    if rcvd is None or rcvd.code != step["code"] or rcvd.reason != step["reason"]:
                        errors.append(f"{where}: got close {close}, want {step['code']} {step['reason']!r}")
                break
            else:
                errors.append(f"unknown step {op}")
    except websockets.ConnectionClosed as e:
        errors.append(f"the connection closed early: {e}")
    except asyncio.TimeoutError:
        errors.append(f"timed out after {WAIT}s in {where}")
    try:
        await asyncio.wait_for(ws.wait_closed(), 5)
    except asyncio.TimeoutError:
        errors.append("the connection did not close within 5s of the closing handshake")
    return errors, ext, close


def options(sc, server):
    f = deflate_factory(sc["deflate"], server)
    return dict(
        extensions=[f] if f else None,
        compression=None,
        max_size=None,
        ping_interval=None,
        close_timeout=10,
    )


async def client(scenarios, base):
    for sc in scenarios:
        try:
            async with websockets.connect(f"{base}/s/{sc['id']}", **options(sc, False)) as ws:
                errors, ext, close = await run_steps(sc, ws)
        except Exception as e:  # noqa: BLE001 - reported as the scenario's failure
            errors, ext, close = [f"driver error: {e!r}"], "", None
        report(sc["id"], errors, ext, close)


async def server(scenarios):
    servers, ports = [], {}
    for sc in scenarios:

        async def handler(ws, path=None, sc=sc):
            target = ws.path
            if target != f"/s/{sc['id']}":
                report(sc["id"], [f"unexpected request target {target}"], "", None)
                return
            try:
                errors, ext, close = await run_steps(sc, ws)
            except Exception as e:  # noqa: BLE001
                errors, ext, close = [f"driver error: {e!r}"], "", None
            report(sc["id"], errors, ext, close)

        s = await websockets.serve(handler, "127.0.0.1", 0, **options(sc, True))
        servers.append(s)
        ports[sc["id"]] = s.sockets[0].getsockname()[1]
    print("PORTS " + json.dumps(ports), flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    for s in servers:
        s.close()


def main():
    if len(sys.argv) < 3 or sys.argv[1] not in ("client", "server"):
        print("usage: peer.py client SPEC.json ws://HOST:PORT | server SPEC.json", file=sys.stderr)
        sys.exit(2)
    with open(sys.argv[2], encoding="utf-8") as f:
        scenarios = json.load(f)
    if sys.argv[1] == "client":
        asyncio.run(client(scenarios, sys.argv[3]))
    else:
        asyncio.run(server(scenarios))


if __name__ == "__main__":
    main()
