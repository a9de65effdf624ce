"""Drive Debian's headless Chromium through the DevTools protocol: dashboard checks, screenshots, load times.

Runs in the Superset environment (``websocket-client``); no browser download, no Playwright.

    browser.py check --url URL --out DIR [--dashboard SLUG] [--native-filters RISON]
        log in (user/password from $SUPERSET_USER / $SUPERSET_PASSWORD), open every tab of the dashboard, wait
        until its charts have rendered, fail on any error box, save one PNG per tab into DIR; prints JSON.
    browser.py load-time --url URL [--runs N]
        time from navigation to "every chart of the first tab rendered" (JSON: each run, median).
    browser.py shot --url URL --out PNG [--cookie NAME=VALUE] [--wait-text TEXT]
        one page of another UI (the Airflow DAG, MLflow runs) as a PNG, for the README.
    browser.py shrink SRC DEST NAME...
        smaller 256-colour copies of PNGs (the README's docs/screenshots).
    browser.py query-contexts --url URL
        open every chart without a saved query context in Explore, which makes Superset's frontend save it
        (used before `provision.py export` when charts were written by hand).

Chromium is started with ``--headless --no-sandbox --disable-background-networking`` (and friends) and an
empty profile in a temporary folder; it is stopped when the command ends.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import websocket

CHROMIUM = os.environ.get("LAIP_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
]

# What counts as an error box on a dashboard (Superset 6 renders chart errors as antd alerts).
ERROR_SELECTORS = [
    ".ant-alert-error",
    "[data-test='error-tooltip']",
    ".error-alert",
    "[data-test='dashboard-component-chart-holder'] [role='alert']",
]
LOADING_SELECTORS = [".loading", "[data-test='loading-indicator']", ".ant-skeleton", "[aria-label='Loading']"]


class BrowserError(RuntimeError):
    pass


def url_origin(url: str) -> str:
    """``scheme://host:port`` of an http(s) URL ("" for another)."""
    origin = re.match(r"https?://[^/]+", url)
    return origin.group(0) if origin else ""


class Chromium:
    """One headless Chromium with one page, spoken to over the DevTools protocol."""

    def __init__(self, width: int = 1600, height: int = 1200) -> None:
        self.profile = tempfile.mkdtemp(prefix="laip-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.width, self.height = width, height
        self._id = 0
        try:
            port = self._devtools_port()
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
                pages = [t for t in json.load(resp) if t.get("type") == "page"]
            self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
            self.events: list[dict[str, Any]] = []  # the Network events since the last goto
            self.origin, self.loader_id = "", ""
            self.send("Page.enable")
            self.send("Runtime.enable")
            self.send("Network.enable")
            self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            )
        except Exception:
            self.close()
            raise

    def _devtools_port(self) -> int:
        marker = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}")
            if marker.is_file() and marker.read_text().strip():
                return int(marker.read_text().split()[0])
            time.sleep(0.1)
        raise BrowserError("chromium did not open its DevTools port")

    def close(self) -> None:
        try:
            if getattr(self, "ws", None):
                self.ws.close()
        finally:
            if self.proc.poll() is None:
                self.proc.terminate()
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(5)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- protocol
    def send(self, method: str, params: dict[str, Any] | None = None, timeout: float = 60) -> dict[str, Any]:
        self._id += 1
        msg_id = self._id
        self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            msg = json.loads(self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise BrowserError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if msg.get("method", "").startswith("Network."):  # what network_report reads
                self.events.append(msg)
        raise BrowserError(f"{method}: no answer in {timeout} s")

    def js(self, expression: str, timeout: float = 60) -> Any:
        result = self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, timeout
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"JS error: {result['exceptionDetails'].get('text')} in {expression[:80]}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 60, what: str = "") -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = self.js(expression)
            if value:
                return value
            time.sleep(0.2)
        raise BrowserError(f"timed out after {timeout:.0f} s waiting for {what or expression[:80]}")

    def goto(self, url: str) -> None:
        """Navigate and wait for the page's load; ``events`` start again with this page's requests."""
        self.events.clear()
        self.origin = url_origin(url)
        self.loader_id = self.send("Page.navigate", {"url": url}).get("loaderId", "")
        self.wait_for(
            "document.readyState === 'complete' && location.href !== 'about:blank'", 60, f"page load of {url}"
        )

    def type_into(self, selector: str, text: str) -> None:
        self.wait_for(f"!!document.querySelector({json.dumps(selector)})", 30, selector)
        self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", {"text": text})

    def screenshot(self, path: Path) -> None:
        """Full-page PNG: the viewport is stretched to the height of the dashboard's content."""
        height = int(
            self.js(
                "Math.max(document.body.scrollHeight, document.documentElement.scrollHeight,"
                " ...Array.from(document.querySelectorAll('.dashboard-content, .grid-container'))"
                ".map(e => e.getBoundingClientRect().bottom + window.scrollY))"
            )
            or self.height
        )
        height = min(max(height + 40, self.height), 8000)
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        time.sleep(0.8)  # let the charts resize to the new viewport
        data = self.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False})["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
        )


# ------------------------------------------------------------------------------------------ superset
LOGIN_ATTEMPTS = 3
# How long a page may take to show its charts: a readiness wait, not a speed target. Superset's first dashboard render
# (its JavaScript bundle, then one query per chart) took over 90 s on a CI machine busy with other tests.
RENDER_WAIT_S = 240


def login(browser: Chromium, base: str, user: str, password: str) -> None:
    """Sign in through the form. On a busy machine the click can land before the page's script handles the form
    (nothing happens): after 40 s on the login page the form is loaded again and filled in again."""
    for attempt in range(1, LOGIN_ATTEMPTS + 1):
        browser.goto(f"{base}/login/")
        if not browser.js("location.pathname.startsWith('/login')"):
            break  # the previous attempt's answer came late: signed in already
        browser.type_into("input#username, input[name='username']", user)
        browser.type_into("input#password, input[name='password'], input[type='password']", password)
        browser.js(
            "(document.querySelector(\"button[type='submit']\") ||"
            " Array.from(document.querySelectorAll('button')).find(b => /sign in|log in|login/i.test(b.innerText)))"
            ".click()"
        )
        try:
            browser.wait_for("!location.pathname.startsWith('/login')", 40, "login redirect")
            break
        except BrowserError:
            if attempt == LOGIN_ATTEMPTS:
                raise
    browser.wait_for("document.readyState === 'complete'", 30)


_STATE_JS = """(() => {
  const q = (sels, root) => sels.flatMap(s => Array.from((root || document).querySelectorAll(s)));
  const visible = e => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  // only the active tab's components are visible (the others are display: none)
  const holders = Array.from(document.querySelectorAll('[data-test="dashboard-component-chart-holder"]'))
                    .filter(visible)
                    .filter(h => !h.querySelector('[data-test="dashboard-markdown-editor"]')
                                 && !h.closest('[data-test="dashboard-markdown-editor"]'));
  const charts = holders.map(h => {
     const title = (h.querySelector('[data-test="slice-header"] [data-test="editable-title"], [data-test="slice-header"]') || {}).innerText || '';
     const loading = q(LOADING, h).filter(visible).length > 0;
     const errors = q(ERRORS, h).filter(visible).map(e => e.innerText.slice(0, 300));
     const rendered = !!h.querySelector('canvas, svg, table, .big_number, .header-line, .superset-legacy-chart-big-number, [data-test="big-number"]')
                      || (h.innerText || '').trim().length > 0;
     const empty = /No results were returned|No data/i.test(h.innerText || '');
     return {title: title.trim(), loading, errors, rendered, empty};
  });
  const pageErrors = q(ERRORS).filter(visible).map(e => e.innerText.slice(0, 300));
  const tabs = Array.from(document.querySelectorAll('.dashboard-component-tabs .ant-tabs-tab, [data-test="dashboard-component-tabs"] .ant-tabs-tab'))
                 .map(t => t.innerText.trim());
  const markdown = Array.from(document.querySelectorAll('[data-test="dashboard-markdown-editor"]')).filter(visible).length;
  return {charts, pageErrors, tabs, markdown};
})()"""


def dashboard_state(browser: Chromium) -> dict[str, Any]:
    js = _STATE_JS.replace("LOADING", json.dumps(LOADING_SELECTORS)).replace("ERRORS", json.dumps(ERROR_SELECTORS))
    return browser.js(js)


def wait_charts(browser: Chromium, timeout: float = RENDER_WAIT_S, settle: float = 1.0) -> dict[str, Any]:
    """Wait until every chart of the active tab has finished loading (rendered, or showing an error)."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = dashboard_state(browser)
        charts = last["charts"]
        if all(not c["loading"] and (c["rendered"] or c["errors"]) for c in charts) and (charts or last["markdown"]):
            time.sleep(settle)
            again = dashboard_state(browser)
            if all(not c["loading"] for c in again["charts"]):
                return again
        time.sleep(0.25)
    raise BrowserError(
        f"charts still loading after {timeout:.0f} s: {json.dumps(last)[:2000]} {json.dumps(network_report(browser))[:1000]}"
    )


def click_tab(browser: Chromium, label: str) -> None:
    ok = browser.js(f"""(() => {{
        const tabs = Array.from(document.querySelectorAll('.ant-tabs-tab'));
        const t = tabs.find(t => t.innerText.trim() === {json.dumps(label)});
        if (!t) return false;
        (t.querySelector('.ant-tabs-tab-btn') || t).click();
        return true; }})()""")
    if not ok:
        raise BrowserError(f"no tab {label!r}")
    browser.wait_for(
        f"""(() => {{ const a = document.querySelector('.ant-tabs-tab-active');
                        return a && a.innerText.trim() === {json.dumps(label)}; }})()""",
        15,
        f"tab {label}",
    )
    time.sleep(0.3)


def slug_file(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")


def open_dashboard(browser: Chromium, base: str, slug: str, native_filters: str | None = None) -> float:
    """Navigate to the dashboard; return seconds until every chart of the first tab rendered."""
    url = f"{base}/superset/dashboard/{slug}/"
    if native_filters:
        url += "?native_filters=" + urllib.request.quote(native_filters, safe="():,!'")
    start = time.monotonic()
    deadline = start + RENDER_WAIT_S
    reloads = 0
    browser.goto(url)
    while not browser.js(_HOLDERS_JS):
        network = network_report(browser)
        failed = network["failed"] + network["stuck"]
        if time.monotonic() > deadline:
            raise BrowserError(
                f"timed out after {RENDER_WAIT_S} s waiting for dashboard charts: {page_report(browser)}"
            )
        if failed and reloads < MAX_RELOADS:
            # a request of the page failed or hangs (a worker restarted, a 5xx under load): reload, as a user would
            reloads += 1
            print(f"reloading the dashboard after {failed[:3]}", file=sys.stderr)
            browser.goto(url)
            deadline = time.monotonic() + RENDER_WAIT_S
        time.sleep(0.5)
    wait_charts(browser, settle=0.0)
    return time.monotonic() - start


_HOLDERS_JS = "document.querySelectorAll('[data-test=\"dashboard-component-chart-holder\"]').length > 0"
MAX_RELOADS = 2


STUCK_S = 120  # a request of the page unanswered this long counts as failed


def network_report(browser: Chromium) -> dict[str, list[str]]:
    """The requests of the page (of its last navigation, to its own server) that failed (status >= 500, or no
    answer), that are still pending, and of these the stuck ones (pending over STUCK_S)."""
    urls: dict[str, str] = {}
    sent: dict[str, float] = {}
    done: set[str] = set()
    failed: list[str] = []
    for event in browser.events:
        method, params = event.get("method"), event.get("params", {})
        rid = params.get("requestId", "")
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if params.get("loaderId") == browser.loader_id and url.startswith(browser.origin + "/"):
                urls[rid] = url
                sent[rid] = params.get("wallTime", time.time())
        elif rid not in urls:
            continue
        elif method == "Network.responseReceived" and params["response"]["status"] >= 500:
            failed.append(f"{params['response']['status']} {params['response']['url'][:160]}")
        elif method == "Network.loadingFailed" and not params.get("canceled"):
            failed.append(f"{params.get('errorText')} {urls[rid][:160]}")
        if method in ("Network.loadingFinished", "Network.loadingFailed"):
            done.add(rid)
    pending = [rid for rid in urls if rid not in done]
    stuck = [f"no answer in {STUCK_S} s {urls[rid][:160]}" for rid in pending if time.time() - sent[rid] > STUCK_S]
    return {"failed": failed, "pending": [urls[rid][:160] for rid in pending], "stuck": stuck}


def page_report(browser: Chromium) -> str:
    """Where the page is and what it shows, with its failed and pending requests: what a timeout's error says."""
    page = browser.js(
        "({url: location.href, title: document.title,"
        " text: (document.body ? document.body.innerText : '').replace(/\\s+/g, ' ').slice(0, 400)})"
    )
    return json.dumps({**(page or {}), **network_report(browser)})[:3000]


def cmd_check(args: argparse.Namespace) -> int:
    out = Path(args.out)
    report: dict[str, Any] = {"tabs": [], "errors": []}
    with Chromium() as browser:
        login(browser, args.url, os.environ["SUPERSET_USER"], os.environ["SUPERSET_PASSWORD"])
        report["first_tab_load_s"] = round(open_dashboard(browser, args.url, args.dashboard, args.native_filters), 2)
        tabs = dashboard_state(browser)["tabs"]
        if not tabs:
            raise BrowserError("the dashboard has no tabs")
        wanted = [t.strip() for t in args.tabs.split(",")] if args.tabs else tabs[: args.max_tabs or None]
        missing = [t for t in wanted if t not in tabs]
        if missing:
            raise BrowserError(f"no tab {missing[0]!r} (tabs: {tabs})")
        for label in wanted:
            click_tab(browser, label)
            state = wait_charts(browser)
            png = out / f"{args.prefix}{slug_file(label)}.png"
            browser.screenshot(png)
            chart_errors = [f"{c['title']}: {e}" for c in state["charts"] for e in c["errors"]]
            in_charts = {e for c in state["charts"] for e in c["errors"]}
            errors = chart_errors + [e for e in state["pageErrors"] if e not in in_charts]
            report["tabs"].append(
                {
                    "tab": label,
                    "charts": len(state["charts"]),
                    "empty": [c["title"] for c in state["charts"] if c["empty"]],
                    "markdown": state["markdown"],
                    "errors": sorted(set(errors)),
                    "screenshot": str(png),
                }
            )
            report["errors"] += [f"{label}: {e}" for e in sorted(set(errors))]
    print(json.dumps(report, indent=1))
    return 1 if report["errors"] else 0


def cmd_load_time(args: argparse.Namespace) -> int:
    times = []
    with Chromium() as browser:
        login(browser, args.url, os.environ["SUPERSET_USER"], os.environ["SUPERSET_PASSWORD"])
        for _ in range(args.runs):
            browser.send("Page.navigate", {"url": "about:blank"})
            time.sleep(0.5)
            times.append(open_dashboard(browser, args.url, args.dashboard))
    print(
        json.dumps(
            {
                "runs_s": [round(t, 2) for t in times],
                "median_s": round(statistics.median(times), 2),
                "max_s": round(max(times), 2),
            }
        )
    )
    return 0


def cmd_query_contexts(args: argparse.Namespace) -> int:
    ids = json.loads(args.chart_ids)
    with Chromium() as browser:
        login(browser, args.url, os.environ["SUPERSET_USER"], os.environ["SUPERSET_PASSWORD"])
        for chart_id in ids:
            browser.goto(f"{args.url}/explore/?slice_id={chart_id}")
            browser.wait_for(
                f"""(() => performance.getEntriesByType('resource').some(
                                 e => e.name.includes('/api/v1/chart/{chart_id}') ))()""",
                60,
                f"query context of chart {chart_id} saved",
            )
            time.sleep(1.0)
            print(f"chart {chart_id}: query context saved")
    return 0


def cmd_shot(args: argparse.Namespace) -> int:
    """One page of another UI (the Airflow DAG, MLflow): optional cookies (a login token), wait for a text, PNG."""
    with Chromium() as browser:
        for cookie in args.cookie:
            name, _, value = cookie.partition("=")
            browser.send("Network.setCookie", {"name": name, "value": value, "url": url_origin(args.url)})
        browser.goto(args.url)
        for text in args.wait_text:
            browser.wait_for(
                f"document.body && document.body.innerText.includes({json.dumps(text)})", RENDER_WAIT_S, text
            )
        time.sleep(args.settle)
        browser.screenshot(Path(args.out))
    print(json.dumps({"screenshot": args.out}))
    return 0


def cmd_shrink(args: argparse.Namespace) -> int:
    from PIL import Image

    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name in args.names:
        with Image.open(Path(args.src) / f"{name}.png") as im:
            height = round(im.height * args.width / im.width)
            small = im.convert("RGB").resize((args.width, height), Image.Resampling.LANCZOS)
            small.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dest / f"{name}.png", optimize=True)
        print(dest / f"{name}.png")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--dashboard", default="learning-analytics")
    p.add_argument("--native-filters", default=None, help="rison value of the native_filters URL parameter")
    p.add_argument("--prefix", default="", help="file-name prefix of the PNGs")
    p.add_argument("--max-tabs", type=int, default=0, help="check only the first N tabs (0: all)")
    p.add_argument("--tabs", default="", help="check only these tabs (comma-separated labels)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("shot", help="one page of another UI as a PNG (Airflow, MLflow)")
    p.add_argument("--url", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--cookie", action="append", default=[], help="NAME=VALUE set for the URL's origin first")
    p.add_argument("--wait-text", action="append", default=[], help="wait until the page shows this text")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to let the page finish drawing")
    p.set_defaults(func=cmd_shot)
    p = sub.add_parser("shrink", help="copy PNGs at a smaller width and 256 colours (README screenshots)")
    p.add_argument("src", help="directory of the PNGs")
    p.add_argument("dest")
    p.add_argument("names", nargs="+", help="file names (without .png) to copy")
    p.add_argument("--width", type=int, default=1100)
    p.set_defaults(func=cmd_shrink)
    p = sub.add_parser("load-time")
    p.add_argument("--url", required=True)
    p.add_argument("--dashboard", default="learning-analytics")
    p.add_argument("--runs", type=int, default=5)
    p.set_defaults(func=cmd_load_time)
    p = sub.add_parser("query-contexts")
    p.add_argument("--url", required=True)
    p.add_argument("--chart-ids", required=True, help="JSON list of chart ids")
    p.set_defaults(func=cmd_query_contexts)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrowserError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
