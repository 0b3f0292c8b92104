"""The emulator's dashboard: what it shows and does in Chromium, and who may call the admin API."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from report_kit import KEY, EmulatorProcess, http, screenshot, submit

from wanform.spec.emulator.wire import CLOCK, FAULTS, RESET, TASKS, TOKEN_HEADER, UI

PWNED = '<img src="x" onerror="window.__pwned = 1">'


@pytest.fixture
def emulator() -> Iterator[EmulatorProcess]:
    """An emulator at real speed: tasks move only when the clock is advanced. Tests ask for it
    before `page`, so the page closes (and stops polling) before the emulator stops: the other
    way round, a poll in between was a console error at teardown (seen once under load)."""
    with EmulatorProcess() as started:
        yield started


def token(emulator: EmulatorProcess) -> str:
    status, _ = http(emulator.origin + CLOCK)
    assert status == 200
    import urllib.request

    with urllib.request.urlopen(emulator.origin + UI, timeout=30) as page:
        html = page.read().decode()
    found = re.search(r'name="wanform-admin-token" content="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_a_task_appears_and_moves_with_the_clock(emulator: EmulatorProcess, page) -> None:
    """A submitted task shows up; advancing the clock from the page makes it SUCCEEDED with
    its result thumbnail; the prompt, markup included, is shown as text."""
    page.goto(emulator.origin + UI)
    status, body = submit(emulator.base_url, PWNED)
    assert status == 200
    task_id = body["output"]["task_id"]
    row = page.locator(f"#tasks tr[data-task-id='{task_id}']")
    row.wait_for()
    assert row.get_attribute("data-status") in ("PENDING", "RUNNING")
    assert row.locator("td.prompt").text_content() == PWNED
    page.fill("#advance-seconds", "3600")
    page.click("#advance")
    page.wait_for_selector(f"#tasks tr[data-task-id='{task_id}'][data-status='SUCCEEDED']")
    thumb = row.locator(".results img")
    thumb.wait_for()
    page.wait_for_function(
        "id => { const i = document.querySelector(`tr[data-task-id='${id}'] .results img`);"
        " return i && i.complete && i.naturalWidth > 0; }",
        arg=task_id,
    )
    assert page.evaluate("window.__pwned") is None
    assert page.locator("td.prompt img").count() == 0
    logged = page.locator("#requests tbody tr")
    assert logged.count() >= 1
    screenshot(page, "dashboard")


def test_a_fault_added_on_the_page_is_in_the_api_and_fires(emulator: EmulatorProcess, page) -> None:
    """The rule the page adds is listed by the admin API, fires on the next submission, shows in
    the request log, and goes when the page removes it."""
    page.goto(emulator.origin + UI)
    page.fill(
        "#fault-rule", '{"action": "error", "code": "Throttling.RateQuota", "endpoint": "submit"}'
    )
    page.click("#add-fault")
    page.locator("#faults tbody tr").wait_for()
    status, listed = http(emulator.origin + FAULTS)
    [rule] = listed["faults"]
    assert (rule["action"], rule["code"]) == ("error", "Throttling.RateQuota")
    status, body = submit(emulator.base_url, "a fox")
    assert (status, body["code"]) == (429, "Throttling.RateQuota")
    page.wait_for_function(
        "id => [...document.querySelectorAll('#requests tbody tr')].some("
        "r => r.textContent.includes('Throttling.RateQuota') && r.textContent.includes(id))",
        arg=rule["id"],
    )
    page.click(f"#faults tr[data-rule-id='{rule['id']}'] button")
    page.locator("#faults tbody tr").wait_for(state="detached")
    assert http(emulator.origin + FAULTS)[1] == {"faults": []}


def test_reset_from_the_page_and_the_listings(emulator: EmulatorProcess, page) -> None:
    """The page's reset empties the task listing the admin API gives."""
    submit(emulator.base_url, "a fox")
    assert len(http(emulator.origin + TASKS)[1]["tasks"]) == 1
    page.goto(emulator.origin + UI)
    page.locator("#tasks tbody tr").wait_for()
    page.click("#reset")
    page.locator("#tasks tbody tr").wait_for(state="detached")
    assert http(emulator.origin + TASKS)[1] == {"tasks": []}


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>elsewhere</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_cross_origin_reset_is_refused(browser, emulator: EmulatorProcess) -> None:
    """A page on another origin cannot reset the emulator, by fetch or by form."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    submit(emulator.base_url, "a fox")
    page = browser.new_page()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/")
        status = page.evaluate(
            "url => fetch(url, {method: 'POST', mode: 'no-cors'}).then(r => r.type)",
            emulator.origin + RESET,
        )
        assert status == "opaque"
        with page.expect_navigation():
            page.evaluate(
                "url => { const f = document.createElement('form'); f.method = 'POST';"
                " f.action = url; document.body.appendChild(f); f.submit(); }",
                emulator.origin + RESET,
            )
        assert "Forbidden" in page.content()
    finally:
        page.close()
        server.shutdown()
        server.server_close()
    assert len(http(emulator.origin + TASKS)[1]["tasks"]) == 1


def test_browser_requests_need_the_origin_and_the_token(emulator: EmulatorProcess) -> None:
    """With Origin set, a change needs the page's token; another origin, or a rebound host name,
    is refused even with it; a program without those headers is served as before."""
    reset = emulator.origin + RESET
    own = {"Origin": emulator.origin}
    assert http(reset, "POST", headers=own)[0] == 403
    assert http(reset, "POST", headers=own | {TOKEN_HEADER: "guess"})[0] == 403
    good = own | {TOKEN_HEADER: token(emulator)}
    assert http(reset, "POST", headers=good) == (200, {"reset": True})
    other = good | {"Origin": "http://evil.example"}
    status, body = http(reset, "POST", headers=other)
    assert (status, body["code"]) == (403, "Forbidden")
    port = emulator.origin.rsplit(":", 1)[1]
    rebound = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    assert http(reset, "POST", headers=rebound | {TOKEN_HEADER: good[TOKEN_HEADER]})[0] == 403
    assert http(emulator.origin + UI, headers=rebound)[0] == 403
    assert http(reset, "POST", headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert http(reset, "POST") == (200, {"reset": True})


def test_the_request_log_is_newest_first_paged_counted_and_filtered(
    emulator: EmulatorProcess, page
) -> None:
    """The log shows its newest request first, 50 rows until asked for more, a count per status,
    and filters by status and path; the page, tables included, fits a 390 px screen."""
    assert submit(emulator.base_url, "a fox")[0] == 200
    for number in range(54):  # UNKNOWN, with 200; an account each, under the rate limits
        key = {"Authorization": f"Bearer {KEY}-{number}"}
        assert http(f"{emulator.base_url}/tasks/no-task-{number}", headers=key)[0] == 200
    assert http(f"{emulator.base_url}/tasks/no-task-54")[0] == 401  # no key
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(emulator.origin + UI)
    rows = page.locator("#requests tbody tr")
    page.wait_for_function("() => document.querySelectorAll('#requests tbody tr').length === 50")
    assert rows.first.get_attribute("data-status") == "401"
    counts = page.eval_on_selector_all(
        "#request-counts .count", "e => e.map(x => [x.dataset.status, x.textContent])"
    )
    assert counts == [["200", "55 × 200"], ["401", "1 × 401"]]
    assert page.text_content("#requests-shown") == "50 of 56 shown"
    page.click("#requests-more")
    assert rows.count() == 56 and page.is_hidden("#requests-more")
    page.select_option("#req-status", "401")
    assert rows.count() == 1 and "/tasks/no-task-54" in rows.first.text_content()
    page.select_option("#req-status", "")
    page.fill("#req-path", "no-task-7")
    assert rows.count() == 1 and "/tasks/no-task-7" in rows.first.text_content()
    page.fill("#req-path", "zebra")
    assert rows.count() == 0 and page.text_content("#requests-shown") == "no request matches"
    page.fill("#req-path", "")
    width = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width[0] <= width[1], width
    assert page.eval_on_selector("#requests tbody td", "td => td.dataset.label") == "time"
    screenshot(page, "dashboard-390")
