// Node's ws against wsmem, driven by interop/external_test.go:
//
//   node peer.mjs client SPEC.json ws://HOST:PORT   run every scenario against wsmem's server
//   node peer.mjs server SPEC.json                  one ws server per scenario; prints
//                                                   PORTS {"id":port,…}, runs until stdin ends
//
// Each scenario ends with a line RESULT {"id","ok","errors","ext","close"}.
import { readFileSync } from "node:fs";
import { WebSocket, WebSocketServer } from "ws";
import { Events, runSteps, report } from "./lib.mjs";

const [mode, specPath, base] = process.argv.slice(2);
const scenarios = JSON.parse(readFileSync(specPath, "utf8"));
const MAX = 64 << 20;

// pmd turns the scenario's deflate settings into ws's perMessageDeflate.
function pmd(d) {
  if (!d) return false;
  const o = { threshold: 1024 };
  if (d.serverNoContextTakeover) o.serverNoContextTakeover = true;
  if (d.clientNoContextTakeover) o.clientNoContextTakeover = true;
  if (d.serverMaxWindowBits) o.serverMaxWindowBits = d.serverMaxWindowBits;
  if (d.clientMaxWindowBits) o.clientMaxWindowBits = d.clientMaxWindowBits;
  return o;
}

// attach wires a ws WebSocket to the step runner.
function attach(ws) {
  const events = new Events();
  ws.on("message", (data, isBinary) => events.push({ kind: "message", type: isBinary ? "binary" : "text", data }));
  ws.on("ping", (data) => events.push({ kind: "ping", data }));
  ws.on("pong", (data) => events.push({ kind: "pong", data }));
  ws.on("close", (code, reason) => events.push({ kind: "close", code, reason: reason.toString() }));
  ws.on("error", (err) => events.push({ kind: "error", err }));
  const closed = new Promise((resolve) => ws.once("close", resolve));
  return {
    events,
    closed,
    seesPings: true,
    sendCtl: (o) => ws.send(JSON.stringify(o)),
    send: (buf, type, frag) => {
      const binary = type === "binary";
      if (!frag || buf.length <= frag) {
        ws.send(buf, { binary });
        return;
      }
      for (let i = 0; i < buf.length; i += frag) {
        ws.send(buf.subarray(i, i + frag), { binary, fin: i + frag >= buf.length });
      }
    },
    ping: (buf) => ws.ping(buf),
    close: (code, reason) => ws.close(code, reason),
  };
}

// run executes one scenario and reports; it checks the negotiation first.
async function run(sc, ws) {
  const io = attach(ws);
  const ext = ws._extensions["permessage-deflate"];
  const extDesc = ext ? "permessage-deflate " + JSON.stringify(ext.params) : "";
  const pre = [];
  if (!!ext !== sc.expectDeflate) pre.push(`ws negotiated permessage-deflate: ${!!ext}, want ${sc.expectDeflate} (${ws.extensions})`);
  const { errors, close } = await runSteps(sc, io);
  await Promise.race([io.closed, new Promise((r) => setTimeout(r, 5000))]);
  if (ws.readyState !== WebSocket.CLOSED) {
    errors.push("the connection did not close within 5s of the closing handshake");
    ws.terminate();
  }
  report(sc.id, pre.concat(errors), extDesc, close);
}

if (mode === "client") {
  for (const sc of scenarios) {
    const ws = new WebSocket(`${base}/s/${sc.id}`, { perMessageDeflate: pmd(sc.deflate), maxPayload: MAX });
    const opened = await new Promise((resolve) => {
      ws.once("open", () => resolve(null));
      ws.once("error", (err) => resolve(err));
      ws.once("unexpected-response", (_req, res) => resolve(new Error(`HTTP ${res.statusCode}`)));
    });
    if (opened) {
      report(sc.id, [`connecting: ${opened.message}`], "", null);
      continue;
    }
    await run(sc, ws).catch((err) => {
      report(sc.id, [`driver error: ${err.stack}`], "", null);
      ws.terminate();
    });
  }
} else if (mode === "server") {
  const ports = {};
  const servers = [];
  await Promise.all(
    scenarios.map(
      (sc) =>
        new Promise((resolve) => {
          const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: pmd(sc.deflate), maxPayload: MAX });
          wss.on("connection", (ws, req) => {
            if (req.url !== `/s/${sc.id}`) {
              report(sc.id, [`unexpected request target ${req.url}`], "", null);
              ws.terminate();
              return;
            }
            run(sc, ws).catch((err) => report(sc.id, [`driver error: ${err.stack}`], "", null));
          });
          wss.on("listening", () => {
            ports[sc.id] = wss.address().port;
            resolve();
          });
          servers.push(wss);
        }),
    ),
  );
  process.stdout.write(`PORTS ${JSON.stringify(ports)}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => {
    for (const s of servers) s.close();
    process.exit(0);
  });
} else {
  console.error("usage: node peer.mjs client SPEC.json ws://HOST:PORT | server SPEC.json");
  process.exit(2);
}
