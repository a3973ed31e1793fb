#!/usr/bin/env python3
"""Prints the XSD sequence order of vim25 types, to check adapters/vsphere/soap/schema.ts.
Usage: xsd-order.py WSDL_DIR TYPE...   e.g. xsd-order.py /work/shared/vsphere-wsdl TraversalSpec LoginRequestType
"""
import glob, re, sys

wsdl_dir = sys.argv[1]
src = "".join(open(f).read() for f in glob.glob(wsdl_dir + "/*.xsd"))
for t in sys.argv[2:]:
    m = re.search(r'<complexType name="%s">(.*?)</complexType>' % t, src, re.S)
    if not m:
        print(t, "NOT FOUND")
        continue
    body = m.group(1)
    b = re.search(r'base="vim25:(\w+)"', body)
    els = re.findall(r'<element name="(\w+)" type="([\w:]+)"([^/]*)/>', body)
    fields = ", ".join(
        "%s:%s%s%s" % (n, ty.split(":")[1], "?" if 'minOccurs="0"' in r else "", "[]" if "unbounded" in r else "")
        for n, ty, r in els
    )
    print("%s%s: %s" % (t, " <- " + b.group(1) if b else "", fields))
