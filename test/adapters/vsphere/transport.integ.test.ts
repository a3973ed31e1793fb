/**
 * The HTTPS transport against a loopback server: cookies, a keep-alive socket reset by the server
 * while idle (repeated once on a fresh socket), and a reset on a fresh socket (not repeated).
 */
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { HttpsTransport } from "../../../adapters/vsphere/soap/transport.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";
import { TEST_CERT } from "./helpers/replay-server.js";
import { readFileSync } from "node:fs";

const KEY = readFileSync(new URL("../../../../fixtures/vsphere/tls/key.pem", import.meta.url), "utf8");
let server: https.Server;
let base: URL;
/** Requests seen per socket; `resetSecond` makes the server drop a socket at its second request. */
const perSocket = new WeakMap<Socket, number>();
let resetSecond = false;
let resetAll = false;
let answered = 0;

before(async () => {
  server = https.createServer({ cert: TEST_CERT, key: KEY, keepAliveTimeout: 60_000 }, (req, res) => {
    const n = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, n);
    if (resetAll || (resetSecond && n === 2)) {
      req.socket.destroy();
      return;
    }
    req.resume();
    req.on("end", () => {
      answered++;
      res.writeHead(200, {
        "Content-Type": "text/xml",
        "Set-Cookie": `vmware_soap_session="s${answered}"; Path=/`,
      });
      res.end(`<ok n="${answered}" cookie="${req.headers.cookie ?? ""}"/>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = new URL(`https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function transport() {
  return new HttpsTransport(base, { tls: { mode: "verify", ca: TEST_CERT }, timeoutMs: 5000, maxSockets: 1 });
}

test("the transport keeps the session cookie the server set and sends it back", async () => {
  const t = transport();
  await t.request({ method: "POST", path: "/sdk", body: "<x/>" });
  const second = await t.request({ method: "POST", path: "/sdk", body: "<x/>" });
  assert.match(
    second.body.toString(),
    /cookie="vmware_soap_session=&quot;s\d+&quot;"|cookie="vmware_soap_session="s\d+""/,
  );
  assert.match(t.cookie("vmware_soap_session") ?? "", /^"s\d+"$/);
  t.close();
});

test("a keep-alive socket reset before the request was read is repeated once on a fresh socket", async () => {
  resetSecond = true;
  const t = transport();
  try {
    const first = await t.request({ method: "POST", path: "/sdk", body: "<CreateSnapshot_Task/>" });
    assert.equal(first.status, 200);
    const second = await t.request({ method: "POST", path: "/sdk", body: "<CreateSnapshot_Task/>" });
    assert.equal(second.status, 200);
  } finally {
    resetSecond = false;
    t.close();
  }
});

test("a reset on a fresh socket is not repeated by the transport: VSPHERE_UNREACHABLE, retryable", async () => {
  resetAll = true;
  const t = transport();
  const before = answered;
  try {
    await assert.rejects(
      t.request({ method: "POST", path: "/sdk", body: "<x/>" }),
      (e) => isSnapvisorError(e, "VSPHERE_UNREACHABLE") && e.retryable,
    );
    assert.equal(answered, before);
  } finally {
    resetAll = false;
    t.close();
  }
});
