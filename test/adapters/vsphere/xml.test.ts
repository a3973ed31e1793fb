import { test } from "node:test";
import assert from "node:assert/strict";
import { escapeAttr, escapeText, parseXml, xsiType, XSI_NS } from "../../../adapters/vsphere/soap/xml.js";
import { isSnapvisorError } from "../../../src/domain/errors.js";

const HOSTILE = [
  `<a&b>`,
  `"quoted" 'single'`,
  "ünïcødé 😀 名前",
  "tab\tnew\nline\r\nend",
  "  spaces  ",
  "]]> &amp; &#38;",
];

test("escapeText() then parseXml() round-trips hostile names exactly", () => {
  for (const name of HOSTILE) {
    const el = parseXml(`<n a="${escapeAttr(name)}">${escapeText(name)}</n>`);
    assert.equal(el.text, name);
    assert.equal(el.attrs.get("a"), name);
  }
});

test("parseXml() decodes Go-style numeric references (vcsim escapes quotes as &#34;)", () => {
  const el = parseXml(`<n>&#34;x&#34; &#39;y&#39; &#x9;&#xA;&#128512; &lt;&amp;&gt;</n>`);
  assert.equal(el.text, `"x" 'y' \t\n😀 <&>`);
});

test("parseXml() resolves xsi:type whatever prefix the server chose", () => {
  const a = parseXml(`<v xmlns:xsi="${XSI_NS}" xsi:type="xsd:long">1</v>`);
  const b = parseXml(`<v xmlns:XMLSchema-instance="${XSI_NS}" XMLSchema-instance:type="VirtualDisk"/>`);
  assert.equal(xsiType(a), "long");
  assert.equal(xsiType(b), "VirtualDisk");
});

test("parseXml() keeps a MoRef's plain type attribute apart from xsi:type", () => {
  const el = parseXml(
    `<val xmlns:xsi="${XSI_NS}" xsi:type="ManagedObjectReference" type="VirtualMachine">vm-1</val>`,
  );
  assert.equal(el.attrs.get("type"), "VirtualMachine");
  assert.equal(xsiType(el), "ManagedObjectReference");
});

test("parseXml() refuses DOCTYPE, unknown entities, bad references and mismatched tags", () => {
  const bad = [
    `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`,
    `<a>&nbsp;</a>`,
    `<a>&#0;</a>`,
    `<a>&#xD800;</a>`,
    `<a>& b</a>`,
    `<a><b></a></b>`,
    `<a>`,
    `<a/><b/>`,
    `<p:a/>`,
    ``,
  ];
  for (const text of bad) {
    assert.throws(
      () => parseXml(text),
      (err) => isSnapvisorError(err, "VSPHERE_BAD_ANSWER"),
      text,
    );
  }
});

test("parseXml() reads CDATA and skips comments and the XML declaration", () => {
  const el = parseXml(`<?xml version="1.0"?><!-- c --><a><![CDATA[<raw&>]]><!-- x --><b/></a>`);
  assert.equal(el.text, "<raw&>");
  assert.equal(el.children[0]?.name, "b");
});

test("escapeText() refuses characters XML 1.0 cannot carry, with a coded error", () => {
  for (const s of ["nul\u0000", "bell\u0007", "lone\ud800", "\ufffe"]) {
    assert.throws(
      () => escapeText(s),
      (err) => isSnapvisorError(err, "VSPHERE_INVALID_ARGUMENT"),
    );
  }
});
