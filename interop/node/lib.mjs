// Shared by the drivers: the payload generators and the step language of
// interop/agent_test.go (see there for the control messages).
import { createHash } from "node:crypto";

// mulberry32: a small seeded generator, so payloads are reproducible.
export function rng(seed) {
  let a = (seed * 2654435761 + 0x9e3779b9) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RUNES = ["a", "Z", " ", "0", "é", "ß", "Ж", "✓", "€", "中", "😀", "𝄞"].map((r) => Buffer.from(r, "utf8"));
const WORDS = (
  "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november " +
  "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu websocket " +
  "frame deflate window context takeover message payload buffer header mask client server"
).split(" ");

// gen returns exactly step.len bytes of the step's kind.
export function gen(step) {
  const n = step.len || 0;
  const r = rng(step.seed || 0);
  const out = Buffer.alloc(n);
  switch (step.gen) {
    case "ascii": {
      const s = Buffer.from("The quick brown fox jumps over the lazy dog. ");
      for (let i = 0; i < n; i++) out[i] = s[i % s.length];
      return out;
    }
    case "utf8": {
      // Mixed 1- to 4-byte runes: frames cut by size split runes.
      let i = 0;
      while (i < n) {
        const c = RUNES[Math.floor(r() * RUNES.length)];
        if (i + c.length > n) {
          out[i++] = 0x78; // 'x'
          continue;
        }
        c.copy(out, i);
        i += c.length;
      }
      return out;
    }
    case "random": {
      for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
      return out;
    }
    case "zip": {
      // JSON-like lines from a small vocabulary: compresses well, with
      // back-references near and far.
      const parts = [];
      let len = 0;
      for (let id = 0; len < n; id++) {
        const w = () => WORDS[Math.floor(r() * WORDS.length)];
        let line = `{"id":${id},"user":"${w()}-${Math.floor(r() * 100)}","tags":["${w()}","${w()}"],"note":"`;
        for (let k = 3 + Math.floor(r() * 12); k > 0; k--) line += w() + " ";
        line += '"}\n';
        parts.push(line);
        len += line.length;
      }
      Buffer.from(parts.join("")).copy(out, 0, 0, n);
      return out;
    }
  }
  throw new Error(`unknown generator ${step.gen}`);
}

export const sha256 = (b) => createHash("sha256").update(b).digest("hex");

// describe tells where two buffers differ.
export function describeDiff(got, want) {
  let i = 0;
  const n = Math.min(got.length, want.length);
  while (i < n && got[i] === want[i]) i++;
  const hex = (b) => b.subarray(i, i + 16).toString("hex");
  return `got ${got.length} bytes, want ${want.length}; first difference at byte ${i}: got [${hex(got)}], want [${hex(want)}]`;
}

// Events turns a WebSocket's callbacks into an awaitable queue.
export class Events {
  constructor() {
    this.queue = [];
    this.waiters = [];
  }
  push(ev) {
    const w = this.waiters.shift();
    if (w) w(ev);
    else this.queue.push(ev);
  }
  next(ms = 20000) {
    if (this.queue.length) return Promise.resolve(this.queue.shift());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(done);
        if (i >= 0) this.waiters.splice(i, 1);
        resolve({ kind: "timeout" });
      }, ms);
      const done = (ev) => {
        clearTimeout(timer);
        resolve(ev);
      };
      this.waiters.push(done);
    });
  }
}

const show = (ev) =>
  ev.kind === "message"
    ? `${ev.type} message of ${ev.data.length} bytes: ${JSON.stringify(ev.data.subarray(0, 60).toString())}`
    : ev.kind === "close"
      ? `close ${ev.code} ${JSON.stringify(ev.reason)}`
      : ev.kind === "error"
        ? `error ${ev.err}`
        : `${ev.kind} ${ev.data ? JSON.stringify(ev.data.toString()) : ""}`;

// runSteps runs a scenario on an open connection. io has:
//   events: Events fed with {kind: message|ping|pong|close|error|timeout}
//   sendCtl(obj), send(buf, type, frag), ping(buf) (null: unsupported),
//   close(code, reason)
// It returns the list of errors (empty: ok) and the close seen.
export async function runSteps(sc, io) {
  const errors = [];
  let closeSeen = null;
  const fail = (m) => errors.push(m);
  // nextData skips pings and pongs.
  const nextData = async () => {
    for (;;) {
      const ev = await io.events.next();
      if (ev.kind === "ping" || ev.kind === "pong") continue;
      return ev;
    }
  };
  outer: for (const [si, step] of sc.steps.entries()) {
    const where = `step ${si} (${step.op}${step.gen ? " " + step.type + " " + step.gen + " " + step.len : ""})`;
    switch (step.op) {
      case "echo": {
        const payload = gen(step);
        const hash = sha256(payload);
        for (let r = 0; r < Math.max(1, step.repeat || 0); r++) {
          io.sendCtl({ cmd: "echo", type: step.type, len: payload.length, sha256: hash, wsmemFrag: step.wsmemFrag || 0 });
          io.send(payload, step.type, step.frag || 0);
          const ev = await nextData();
          if (ev.kind !== "message") {
            fail(`${where}: waiting for the echo, got ${show(ev)}`);
            break outer;
          }
          if (ev.type !== step.type) fail(`${where}: echo is ${ev.type}, want ${step.type}`);
          if (!ev.data.equals(payload)) fail(`${where}: echo differs: ${describeDiff(ev.data, payload)}`);
        }
        break;
      }
      case "ping-peer": {
        if (!io.ping) break;
        const text = step.data ?? "";
        const data = Buffer.from(text, "utf8");
        io.sendCtl({ cmd: "expect-ping", data: text });
        io.ping(data);
        let pong = false,
          reply = false;
        while (!(pong && reply)) {
          const ev = await io.events.next();
          if (ev.kind === "pong" && !pong) {
            pong = true;
            if (!ev.data.equals(data)) fail(`${where}: pong ${JSON.stringify(ev.data.toString())}, want ${JSON.stringify(text)}`);
          } else if (ev.kind === "message" && !reply) {
            reply = true;
            const m = JSON.parse(ev.data.toString());
            if (m.pinged !== text) fail(`${where}: wsmem reported ping ${JSON.stringify(m)}, want ${JSON.stringify(text)}`);
          } else {
            fail(`${where}: got ${show(ev)} waiting for the pong and wsmem's report`);
            break outer;
          }
        }
        break;
      }
      case "ping-wsmem": {
        const text = step.data ?? "";
        io.sendCtl({ cmd: "ping", data: text });
        let ping = !io.seesPings,
          reply = false;
        while (!(ping && reply)) {
          const ev = await io.events.next();
          if (ev.kind === "ping" && !ping) {
            ping = true;
            if (ev.data.toString() !== text) fail(`${where}: ping ${JSON.stringify(ev.data.toString())}, want ${JSON.stringify(text)}`);
          } else if (ev.kind === "message" && !reply) {
            reply = true;
            const m = JSON.parse(ev.data.toString());
            if (m.pong !== text) fail(`${where}: wsmem reported pong ${JSON.stringify(m)}, want ${JSON.stringify(text)}`);
          } else {
            fail(`${where}: got ${show(ev)} waiting for wsmem's ping and its pong report`);
            break outer;
          }
        }
        break;
      }
      case "close-peer": {
        io.sendCtl({ cmd: "expect-close", code: step.code, reason: step.reason });
        io.close(step.code, step.reason);
        const ev = await nextData();
        closeSeen = ev;
        // wsmem answers with the code it received.
        if (ev.kind !== "close" || ev.code !== step.code) fail(`${where}: got ${show(ev)}, want wsmem's answering close ${step.code}`);
        break outer;
      }
      case "close-wsmem": {
        io.sendCtl({ cmd: "close", code: step.code, reason: step.reason });
        const ev = await nextData();
        closeSeen = ev;
        if (ev.kind !== "close" || ev.code !== step.code || ev.reason !== step.reason)
          fail(`${where}: got ${show(ev)}, want close ${step.code} ${JSON.stringify(step.reason)}`);
        break outer;
      }
      default:
        fail(`unknown step ${step.op}`);
    }
  }
  return { errors, close: closeSeen ? [closeSeen.code, closeSeen.reason] : null };
}

export function report(id, errors, ext, close) {
  process.stdout.write(`RESULT ${JSON.stringify({ id, ok: errors.length === 0, errors, ext, close })}\n`);
}
