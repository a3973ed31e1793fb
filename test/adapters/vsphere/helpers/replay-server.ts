/**
 * A scripted vim25 peer over real HTTPS on loopback (test-only certificate in fixtures/vsphere/tls),
 * for the calls vcsim lacks (QueryChangedDiskAreas, ConsolidateVMDisks_Task, quiesce faults,
 * cleanPowerOff, paging tokens). Each test supplies a handler that answers per method with
 * vCenter-format XML; the server parses requests with the adapter's XML reader and records them.
 */
import https from "node:https";
import { readFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { parseXml, escapeText, type XmlElement } from "../../../../adapters/vsphere/soap/xml.js";

const tlsDir = new URL("../../../../../fixtures/vsphere/tls/", import.meta.url);
export const TEST_CERT = readFileSync(new URL("cert.pem", tlsDir), "utf8");
const TEST_KEY = readFileSync(new URL("key.pem", tlsDir), "utf8");

export interface RecordedCall {
  readonly method: string;
  readonly args: XmlElement;
  readonly cookie: string;
  readonly soapAction: string;
  readonly raw: string;
}

export type Answer =
  | { readonly xml: string }
  | { readonly fault: string; readonly message?: string }
  | { readonly status: number; readonly body: string };

export type Handler = (call: RecordedCall) => Answer | undefined;

export interface ReplayServer {
  readonly url: string;
  readonly calls: RecordedCall[];
  close(): Promise<void>;
}

const ENV_OPEN =
  '<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" ' +
  'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" ' +
  'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>';
const ENV_CLOSE = "</soapenv:Body></soapenv:Envelope>";

/** Service content, login and logout as vCenter answers them; everything else goes to `handler`. */
export async function startReplayServer(handler: Handler): Promise<ReplayServer> {
  const calls: RecordedCall[] = [];
  let sessions = 0;
  const server = https.createServer({ cert: TEST_CERT, key: TEST_KEY }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      const body = parseXml(raw).children[0]?.children[0];
      const call: RecordedCall = {
        method: body?.name ?? "",
        args: body ?? parseXml("<none/>"),
        cookie: req.headers.cookie ?? "",
        soapAction: String(req.headers.soapaction ?? ""),
        raw,
      };
      calls.push(call);
      const send = (status: number, xml: string, headers: Record<string, string> = {}) => {
        res.writeHead(status, { "Content-Type": "text/xml; charset=utf-8", ...headers });
        res.end(xml);
      };
      let answer: Answer | undefined;
      if (call.method === "RetrieveServiceContent") answer = { xml: SERVICE_CONTENT };
      else if (call.method === "Login") {
        sessions++;
        send(
          200,
          `${ENV_OPEN}<LoginResponse xmlns="urn:vim25"><returnval><key>s${sessions}</key><userName>u</userName></returnval></LoginResponse>${ENV_CLOSE}`,
          {
            "Set-Cookie": `vmware_soap_session="session-${sessions}"; Path=/; HttpOnly; Secure;`,
          },
        );
        return;
      } else answer = handler(call);
      if (answer === undefined)
        answer = {
          fault: `<MethodNotFoundFault xmlns="urn:vim25" xsi:type="MethodNotFound"><method>${call.method}</method></MethodNotFoundFault>`,
          message: `not scripted: ${call.method}`,
        };
      if ("status" in answer) send(answer.status, answer.body, { "Content-Type": "text/html" });
      else if ("fault" in answer)
        send(
          500,
          `${ENV_OPEN}<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>${escapeText(answer.message ?? "")}</faultstring><detail>${answer.fault}</detail></soapenv:Fault>${ENV_CLOSE}`,
        );
      else
        send(
          200,
          `${ENV_OPEN}<${call.method}Response xmlns="urn:vim25">${answer.xml}</${call.method}Response>${ENV_CLOSE}`,
        );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `https://127.0.0.1:${port}/sdk`,
    calls,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const SERVICE_CONTENT =
  '<returnval><rootFolder type="Folder">group-d1</rootFolder><propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>' +
  '<viewManager type="ViewManager">ViewManager</viewManager><about><name>VMware vCenter Server</name><fullName>VMware vCenter Server 8.0.2 build-22385739</fullName>' +
  "<vendor>VMware, Inc.</vendor><version>8.0.2</version><build>22385739</build><osType>linux-x64</osType><productLineId>vpx</productLineId>" +
  "<apiType>VirtualCenter</apiType><apiVersion>8.0.2.0</apiVersion><instanceUuid>0b5e6c4e-1111-2222-3333-444455556666</instanceUuid></about>" +
  '<sessionManager type="SessionManager">SessionManager</sessionManager><eventManager type="EventManager">EventManager</eventManager></returnval>';

/** Text of the first child of `el` named `name`. */
export function arg(el: XmlElement, name: string): string | undefined {
  return el.children.find((c) => c.name === name)?.text;
}

/** A RetrievePropertiesEx answer holding one object with the given `<propSet>` values (already XML). */
export function objectContent(
  type: string,
  value: string,
  props: Record<string, string>,
  token?: string,
): string {
  const sets = Object.entries(props)
    .map(([name, val]) => `<propSet><name>${name}</name>${val}</propSet>`)
    .join("");
  return `<returnval>${token === undefined ? "" : `<token>${token}</token>`}<objects><obj type="${type}">${value}</obj>${sets}</objects></returnval>`;
}

/** The object and first path a RetrievePropertiesEx request asks for. */
export function retrieveTarget(call: RecordedCall): { type: string; value: string; paths: string[] } {
  const spec = call.args.children.find((c) => c.name === "specSet");
  const obj = spec?.children.find((c) => c.name === "objectSet")?.children.find((c) => c.name === "obj");
  const propSet = spec?.children.find((c) => c.name === "propSet");
  return {
    type: obj?.attrs.get("type") ?? "",
    value: obj?.text ?? "",
    paths: (propSet?.children ?? []).filter((c) => c.name === "pathSet").map((c) => c.text),
  };
}

/** A `<val>` of TaskInfo in a given state (error XML inside `<error>` when failed). */
export function taskInfo(task: string, state: "running" | "success" | "error", extra = ""): string {
  return `<val xsi:type="TaskInfo"><key>${task}</key><task type="Task">${task}</task><descriptionId>x</descriptionId><state>${state}</state><cancelled>false</cancelled><cancelable>true</cancelable>${extra}<reason xsi:type="TaskReasonUser"><userName>u</userName></reason><queueTime>2026-01-01T00:00:00Z</queueTime><eventChainId>1</eventChainId></val>`;
}
