"""The dashboard in a real browser (Debian's chromium, driven by Playwright) against the real
platform: sign in, live task rows, a live log, cancel, rollback, and another project's task
out of reach. Every test fails on a JavaScript error, and saves screenshots of what it saw
under test-output/dashboard/."""

from __future__ import annotations

import json
import shutil

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from tests.harness import ROOT, zip_files

SHOTS = ROOT / "test-output" / "dashboard"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    assert executable, "chromium is not installed (make setup installs Debian's)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser context (no cookies) whose JavaScript errors fail the test, as do
    failed loads other than those a test expects (`expect_error_page`)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    opened = context.new_page()
    opened.expected_error_urls = set()
    errors: list[str] = []
    opened.on("pageerror", lambda e: errors.append(str(e)))

    def on_console(message) -> None:
        if (
            message.type == "error"
            and message.location.get("url") not in opened.expected_error_urls
        ):
            errors.append(f"{message.text} ({message.location.get('url')})")

    opened.on("console", on_console)
    yield opened
    context.close()
    assert not errors, f"JavaScript errors in {request.node.name}: {errors}"


def expect_error_page(page: Page, url: str):
    """Open a URL the test expects to be refused; its failed load is not a script error."""
    page.expected_error_urls.add(url)
    return page.goto(url)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SHOTS / f"{name}.png", full_page=True)


# The size of the smallest text a user is shown, in CSS pixels as drawn (an SVG's text
# shrinks with its drawing).
SMALLEST_TEXT_JS = """() => Math.min(...[...document.querySelectorAll("body *")]
  .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
  .filter(e => e.getClientRects().length)
  .map(e => parseFloat(getComputedStyle(e).fontSize)
    * (e instanceof SVGGraphicsElement ? e.getScreenCTM().a : 1)))"""


def fits_a_phone(page: Page) -> None:
    """What a phone user needs: the page does not scroll sideways (wide tables scroll in
    their own box) and no text is too small to read."""
    page.set_viewport_size(PHONE)
    sideways = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert sideways <= 0, f"the page scrolls {sideways} px sideways on a phone"
    assert page.evaluate(SMALLEST_TEXT_JS) >= 12


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("Project token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def upload(project, name: str, script: str) -> dict:
    data = {"name": name, "stack": "sh", "command": "sh run.sh"}
    return project.upload_code(zip_files({"run.sh": script}), data)


def test_a_task_row_goes_queued_running_complete_without_a_reload(platform, page):
    project = platform.new_project("live-rows")
    code = upload(project, "steps", "echo start; sleep 3; echo end")
    page.goto(f"{platform.url}/login")
    shot(page, "login")
    sign_in(page, platform.url, project.token)
    shot(page, "overview")
    page.get_by_role("link", name="Tasks").click()
    expect(page.get_by_role("heading", name="Tasks")).to_be_visible()
    page.keyboard.press("Tab")  # keyboard users land on the skip link first
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.evaluate("window.notReloaded = true")

    project.pause(code["id"])  # so that the row is seen queued first
    task_id = project.queue("steps")
    status = page.locator(f'tr[data-task="{task_id}"] [data-status]')
    expect(status).to_have_text("queued", timeout=10_000)
    shot(page, "tasks")
    project.resume(code["id"])
    expect(status).to_have_text("running", timeout=30_000)
    expect(status).to_have_text("complete", timeout=30_000)
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator('[data-count="complete"]')).to_have_text("1")

    fits_a_phone(page)
    # The row's essentials without scrolling sideways: which task, and how it went.
    for cell in (page.locator("tbody a code").first, status):
        box = cell.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    shot(page, "tasks-phone")


def test_the_log_tails_live_and_secrets_in_the_payload_are_masked(platform, page):
    project = platform.new_project("live-log")
    upload(project, "counter", "for i in 1 2 3 4 5 6 7 8; do echo line $i; sleep 1; done")
    payload = json.dumps({"user": "ada", "password": "hunter2", "api_key": "k-123"})
    task_id = project.queue("counter", payload)
    sign_in(page, platform.url, project.token)
    page.goto(f"{platform.url}/tasks/{task_id}")

    log = page.locator("#log")
    expect(log).to_contain_text("line 2", timeout=30_000)
    expect(page.locator("#task-status")).to_have_text("running")  # seen while it runs
    shot(page, "task-running")
    expect(page.locator("#task-status")).to_have_text("complete", timeout=30_000)
    expect(log).to_contain_text("line 8")
    expect(page.locator("#log-status")).to_have_text("Task ended; this is the whole log.")
    payload_shown = page.locator("#payload").inner_text()
    assert (
        "ada" in payload_shown and "hunter2" not in payload_shown and "k-123" not in payload_shown
    )
    shot(page, "task-complete")


def test_cancel_a_running_task_from_its_page(platform, page):
    project = platform.new_project("cancel-ui")
    upload(project, "sleeper", "echo sleeping; sleep 60")
    task_id = project.queue("sleeper")
    sign_in(page, platform.url, project.token)
    page.goto(f"{platform.url}/tasks/{task_id}")
    expect(page.locator("#task-status")).to_have_text("running", timeout=30_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#task-status")).to_have_text("cancelled")
    expect(page.get_by_role("status").first).to_contain_text("Task cancelled")
    assert project.task(task_id)["status"] == "cancelled"


def test_roll_a_code_back_and_see_codes_and_schedules(platform, page):
    project = platform.new_project("rollback-ui")
    upload(project, "versioned", "echo one")
    code = upload(project, "versioned", "echo two")
    project.schedule("versioned", run_every=3600)
    sign_in(page, platform.url, project.token)
    page.get_by_role("link", name="Codes").click()
    shot(page, "codes")
    page.get_by_role("link", name="versioned").click()
    expect(page.get_by_role("heading", name="versioned")).to_contain_text("revision 2")
    shot(page, "code")
    page.get_by_role("button", name="Roll back to 1").click()
    expect(page.get_by_role("heading", name="versioned")).to_contain_text("revision 1")
    assert project.code_named("versioned")["rev"] == 1
    assert code["id"] == project.code_named("versioned")["id"]
    page.get_by_role("link", name="Schedules").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    shot(page, "schedules")


def test_another_projects_task_is_out_of_reach(platform, page):
    owner, stranger = platform.new_project("owner"), platform.new_project("stranger")
    upload(owner, "private", "echo mine")
    task_id = owner.queue("private")
    sign_in(page, platform.url, stranger.token)
    response = expect_error_page(page, f"{platform.url}/tasks/{task_id}")
    assert response.status == 404
    expect(page.get_by_role("alert")).to_contain_text("Task not found")
    assert "private" not in page.content()
    response = expect_error_page(page, f"{platform.url}/tasks/{task_id}/log.txt")
    assert response.status == 404


def test_sign_in_refuses_a_bad_token_and_pages_need_a_session(platform, page):
    page.goto(f"{platform.url}/tasks")
    assert page.url == f"{platform.url}/login?next=/tasks"  # sent to sign in first
    page.get_by_label("Project token").fill("not-a-token")
    page.expected_error_urls.add(page.url)  # the refusal is a 401 page
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token opens no project.")


def test_the_admin_switches_projects_and_sees_runners(platform, page):
    project = platform.new_project("admin-view")
    upload(project, "x", "sleep 1")
    for task_id in [project.queue("x") for _ in range(3)]:
        project.wait(task_id, timeout_s=60)
    sign_in(page, platform.url, platform.admin().token)
    page.get_by_label("Project").select_option(label="admin-view")
    page.get_by_role("button", name="Show this project").click()
    expect(page.get_by_role("heading", name="Codes of admin-view")).to_be_visible()
    expect(page.get_by_role("heading", name="Runners")).to_be_visible()
    expect(page.locator("svg.chart rect").first).to_be_attached(timeout=10_000)  # bars drawn
    shot(page, "overview-admin")
    fits_a_phone(page)
    shot(page, "overview-phone")


def test_a_task_page_links_to_its_parent_and_its_children_with_the_trees_counts(platform, page):
    project = platform.new_project("tree-ui")
    upload(project, "leaf", "true")
    api = 'curl -s --unix-socket "$IRONWORKS_API_SOCKET" -H "Content-Type: application/json"'
    upload(project, "root", (
        f"{api} -d '{{\"tasks\": [{{\"code_name\": \"leaf\"}}, {{\"code_name\": \"leaf\"}}]}}'"
        ' "http://task/2/projects/$IRONWORKS_PROJECT_ID/tasks"'
    ))  # fmt: skip
    root_id = project.queue("root")
    assert project.wait(root_id, timeout_s=60)["status"] == "complete"
    leaves = [project.wait(t["id"], timeout_s=60) for t in project.tasks(code_name="leaf")]
    sign_in(page, platform.url, project.token)
    page.goto(f"{platform.url}/tasks/{root_id}")
    expect(page.locator("#children")).to_contain_text("2 queued by this task")
    expect(page.locator("#children")).to_contain_text("2 complete")
    page.locator("#children a").first.click()
    expect(page.locator("#parent")).to_contain_text(root_id)
    assert page.url.endswith(f"/tasks/{leaves[0]['id']}") or page.url.endswith(
        f"/tasks/{leaves[1]['id']}"
    )
    shot(page, "task-tree")
    page.locator("#parent a").click()
    expect(page.locator("#children")).to_be_visible()
    fits_a_phone(page)
