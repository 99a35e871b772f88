// Loaded into the page by browser.mjs: runs one scenario of
// interop/external_test.go with the browser's own WebSocket (no fragments,
// no pings: the Web API has neither) and returns {errors, ext, close}.
/* global window, WebSocket, TextEncoder, TextDecoder, crypto */
(() => {
  function rng(seed) {
    let a = (seed * 2654435761 + 0x9e3779b9) >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const enc = new TextEncoder();
  const RUNES = ["a", "Z", " ", "0", "é", "ß", "Ж", "✓", "€", "中", "😀", "𝄞"].map((r) => enc.encode(r));
  const WORDS = (
    "alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november " +
    "oscar papa quebec romeo sierra tango uniform victor whiskey xray yankee zulu websocket " +
    "frame deflate window context takeover message payload buffer header mask client server"
  ).split(" ");

  function gen(step) {
    const n = step.len || 0;
    const r = rng(step.seed || 0);
    const out = new Uint8Array(n);
    switch (step.gen) {
      case "ascii": {
        const s = enc.encode("The quick brown fox jumps over the lazy dog. ");
        for (let i = 0; i < n; i++) out[i] = s[i % s.length];
        return out;
      }
      case "utf8": {
        let i = 0;
        while (i < n) {
          const c = RUNES[Math.floor(r() * RUNES.length)];
          if (i + c.length > n) {
            out[i++] = 0x78;
            continue;
          }
          out.set(c, i);
          i += c.length;
        }
        return out;
      }
      case "random": {
        for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
        return out;
      }
      case "zip": {
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
        out.set(enc.encode(parts.join("")).subarray(0, n));
        return out;
      }
    }
    throw new Error(`unknown generator ${step.gen}`);
  }

  async function sha256(b) {
    const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
    return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  }

  function diff(got, want) {
    let i = 0;
    const n = Math.min(got.length, want.length);
    while (i < n && got[i] === want[i]) i++;
    const hex = (b) => Array.from(b.subarray(i, i + 16), (x) => x.toString(16).padStart(2, "0")).join("");
    return i === n && got.length === want.length
      ? ""
      : `got ${got.length} bytes, want ${want.length}; first difference at byte ${i}: got [${hex(got)}], want [${hex(want)}]`;
  }

  window.runScenario = async (sc, wsBase) => {
    const errors = [];
    const queue = [];
    const waiters = [];
    const push = (ev) => {
      const w = waiters.shift();
      if (w) w(ev);
      else queue.push(ev);
    };
    const next = (ms = 30000) =>
      queue.length
        ? Promise.resolve(queue.shift())
        : new Promise((resolve) => {
            const done = (ev) => {
              clearTimeout(timer);
              resolve(ev);
            };
            const timer = setTimeout(() => {
              waiters.splice(waiters.indexOf(done), 1);
              resolve({ kind: "timeout" });
            }, ms);
            waiters.push(done);
          });
    const ws = new WebSocket(`${wsBase}/s/${sc.id}`);
    ws.binaryType = "arraybuffer";
    ws.onmessage = (e) =>
      push(
        typeof e.data === "string"
          ? { kind: "message", type: "text", data: enc.encode(e.data) }
          : { kind: "message", type: "binary", data: new Uint8Array(e.data) },
      );
    ws.onclose = (e) => push({ kind: "close", code: e.code, reason: e.reason, clean: e.wasClean });
    ws.onerror = () => push({ kind: "error" });
    const opened = await new Promise((resolve) => {
      ws.onopen = () => resolve(true);
      setTimeout(() => resolve(false), 10000);
    });
    if (!opened) return { errors: ["the WebSocket did not open"], ext: "", close: null };
    const show = (ev) =>
      ev.kind === "message" ? `${ev.type} message of ${ev.data.length} bytes` : ev.kind === "close" ? `close ${ev.code} ${JSON.stringify(ev.reason)}` : ev.kind;
    const negotiated = ws.extensions.includes("permessage-deflate");
    if (negotiated !== sc.expectDeflate) errors.push(`the browser negotiated ${JSON.stringify(ws.extensions)}, want permessage-deflate: ${sc.expectDeflate}`);
    const ctl = (o) => ws.send(JSON.stringify(o));
    let close = null;
    outer: for (const [si, step] of sc.steps.entries()) {
      const where = `step ${si} (${step.op}${step.gen ? " " + step.type + " " + step.gen + " " + step.len : ""})`;
      switch (step.op) {
        case "echo": {
          const payload = gen(step);
          const hash = await sha256(payload);
          const text = step.type === "text" ? new TextDecoder("utf-8", { fatal: true }).decode(payload) : null;
          for (let r = 0; r < Math.max(1, step.repeat || 0); r++) {
            ctl({ cmd: "echo", type: step.type, len: payload.length, sha256: hash, wsmemFrag: step.wsmemFrag || 0 });
            ws.send(text !== null ? text : payload);
            const ev = await next();
            if (ev.kind !== "message") {
              errors.push(`${where}: waiting for the echo, got ${show(ev)}`);
              break outer;
            }
            if (ev.type !== step.type) errors.push(`${where}: echo is ${ev.type}, want ${step.type}`);
            const d = diff(ev.data, payload);
            if (d) errors.push(`${where}: echo differs: ${d}`);
          }
          break;
        }
        case "ping-wsmem": {
          const data = step.data ?? "";
          ctl({ cmd: "ping", data });
          const ev = await next();
          const m = ev.kind === "message" ? JSON.parse(new TextDecoder().decode(ev.data)) : null;
          if (!m || m.pong !== data) errors.push(`${where}: got ${show(ev)} ${JSON.stringify(m)}, want wsmem's pong report ${JSON.stringify(data)}`);
          break;
        }
        case "close-peer": {
          ctl({ cmd: "expect-close", code: step.code, reason: step.reason });
          ws.close(step.code, step.reason);
          const ev = await next();
          close = ev.kind === "close" ? [ev.code, ev.reason] : null;
          if (ev.kind !== "close" || ev.code !== step.code || !ev.clean)
            errors.push(`${where}: got ${show(ev)} (clean: ${ev.clean}), want a clean close answered with ${step.code}`);
          break outer;
        }
        case "close-wsmem": {
          ctl({ cmd: "close", code: step.code, reason: step.reason });
          const ev = await next();
          close = ev.kind === "close" ? [ev.code, ev.reason] : null;
          if (ev.kind !== "close" || ev.code !== step.code || ev.reason !== step.reason || !ev.clean)
            errors.push(`${where}: got ${show(ev)} (clean: ${ev.clean}), want a clean close ${step.code} ${JSON.stringify(step.reason)}`);
          break outer;
        }
        default:
          errors.push(`step ${step.op} is not possible in a browser`);
      }
    }
    return { errors, ext: ws.extensions, close };
  };
})();
