#!/usr/bin/env python3
"""html_check.py: checks of `cdrp report quarterly` output for
t_report_html.sh (python standard library only). Prints "ok", or the
faults one per line, and exits 0 or 1.

  html_check.py csv-json CSV JSON
      every section,metric,value row of CSV equals the server's JSON, and
      every figure of the JSON has its row
  html_check.py html HTML CSV TREND TARGET
      the page (as written, or Chromium's DOM) holds every figure of CSV
      (window rows aside) in a cell marked data-metric="section.metric"
      with data-value equal to the CSV value and the same visible text;
      its tags balance; the inline SVG chart has one bar per quarter with
      a percentage and "n/a" for the others, as TREND says
      ("2018-19 Q1=100.0,...,2018-19 Q4=n/a"), and a target line at TARGET
  html_check.py png-size PNG
      prints WIDTHxHEIGHT of a PNG file
"""
import csv
import json
import struct
import sys
from html.parser import HTMLParser

# CSV section -> JSON path prefix, where they differ; metrics that stand
# for the section's own value.
PREFIX = {
    "new_cases_quarter": "new_cases.quarter",
    "new_cases_year_to_date": "new_cases.year_to_date",
    "ppo_clients_by_strand": "ppo.clients_by_strand",
    "ppo_removed_successful_engagement": "ppo.removed_successful_engagement",
}
SCALAR = {("open_from_before_year", "cases"), ("repeat_victims", "victims"), ("meetings", "held")}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}


def fmt(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


def json_path(section, metric):
    if (section, metric) in SCALAR:
        return section
    return PREFIX.get(section, section) + "." + metric


def lookup(doc, path):
    v = doc
    for part in path.split("."):
        if not isinstance(v, dict) or part not in v:
            raise KeyError(path)
        v = v[part]
    return v


def leaves(v, prefix=""):
    if isinstance(v, dict):
        for k, x in v.items():
            yield from leaves(x, prefix + "." + k if prefix else k)
    else:
        yield prefix


def read_csv(path):
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0] != ["section", "metric", "value"]:
        raise SystemExit("bad CSV header: %r" % (rows[:1],))
    return rows[1:]


def csv_json(csv_path, json_path_):
    faults = []
    doc = json.load(open(json_path_, encoding="utf-8"))
    seen = set()
    for row in read_csv(csv_path):
        if len(row) != 3:
            faults.append("row with %d fields: %r" % (len(row), row))
            continue
        section, metric, value = row
        path = json_path(section, metric)
        seen.add(path)
        try:
            want = fmt(lookup(doc, path))
        except KeyError:
            faults.append("%s.%s: no %s in the JSON" % (section, metric, path))
            continue
        if value != want:
            faults.append("%s.%s: CSV %r, JSON %r" % (section, metric, value, want))
    for leaf in leaves(doc):
        if leaf not in seen:
            faults.append("JSON %s has no CSV row" % leaf)
    return faults


class Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.faults = [], []
        self.cells = {}  # data-metric -> [data-value, visible text]
        self.cell = self.cell_tag = None
        self.bars, self.na, self.svgs, self.target = {}, set(), 0, False
        self.texts = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in VOID:
            self.stack.append(tag)
        if tag == "svg":
            self.svgs += 1
        if "data-metric" in a:
            self.cell, self.cell_tag = a["data-metric"], tag
            self.cells[self.cell] = [a.get("data-value"), ""]
        if tag == "rect" and a.get("class") == "bar":
            self.bars[int(a["data-quarter"])] = a.get("data-pct")
        if tag == "text" and a.get("class") == "na":
            self.na.add(int(a["data-quarter"]))
        if tag == "line" and a.get("id") == "target-line":
            self.target = True

    def handle_startendtag(self, tag, attrs):
        # <rect .../> in inline SVG: no content, nothing to close
        self.handle_starttag(tag, attrs)
        if tag not in VOID and self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.faults.append("unbalanced </%s> (open: %s)" % (tag, "/".join(self.stack[-4:])))
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()
        if self.cell and tag == self.cell_tag:
            self.cell = None

    def handle_data(self, data):
        if self.cell:
            self.cells[self.cell][1] += data
        self.texts.append(data)


def html(html_path, csv_path, trend, target):
    faults = []
    p = Page()
    p.feed(open(html_path, encoding="utf-8").read())
    p.close()
    faults += p.faults
    if p.stack:
        faults.append("tags left open: %s" % "/".join(p.stack))
    for section, metric, value in read_csv(csv_path):
        if section == "window":
            continue
        key = section + "." + metric
        if key not in p.cells:
            faults.append("%s: no cell in the page" % key)
            continue
        dv, text = p.cells[key]
        text = text.strip()
        if dv != value:
            faults.append("%s: data-value %r, CSV %r" % (key, dv, value))
        shown = {"": ("n/a", "not rated"), "true": ("yes",), "false": ("no",)}.get(
            value, (value, value + " %"))
        if text not in shown:
            faults.append("%s: shows %r, CSV %r" % (key, text, value))
    if p.svgs != 1:
        faults.append("%d svg elements, want 1" % p.svgs)
    for k, item in enumerate(trend.split(","), 1):
        label, want = item.split("=")
        if want == "n/a":
            if k not in p.na or k in p.bars:
                faults.append("quarter %d (%s): want n/a, bars %r" % (k, label, p.bars))
        elif p.bars.get(k) != want:
            faults.append("quarter %d (%s): bar %r, want %s" % (k, label, p.bars.get(k), want))
        if label not in "".join(p.texts):
            faults.append("the trend table has no row %s" % label)
    if not p.target:
        faults.append("no target line")
    if ("target %s %%" % target) not in "".join(p.texts):
        faults.append("no 'target %s %%' label" % target)
    return faults


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise SystemExit("not a PNG: %s" % path)
    w, h = struct.unpack(">II", head[16:24])
    print("%dx%d" % (w, h))
    return 0


def main(argv):
    if len(argv) >= 2 and argv[1] == "png-size" and len(argv) == 3:
        return png_size(argv[2])
    if len(argv) == 4 and argv[1] == "csv-json":
        faults = csv_json(argv[2], argv[3])
    elif len(argv) == 6 and argv[1] == "html":
        faults = html(argv[2], argv[3], argv[4], argv[5])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n".join(faults) if faults else "ok")
    return 1 if faults else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
