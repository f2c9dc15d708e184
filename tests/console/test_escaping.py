"""Whatever a user types is shown as text: HTML in a material title, a transcript, a speaker's name and a reviewer's
comment never becomes markup in the console (no element is created, no handler runs)."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.console.test_workbench import SEGMENTS, current, open_transcript, textbox

ATTACK = '<img src=x onerror="window.__pwned=(window.__pwned||0)+1">'


def assert_inert(page) -> None:
    assert page.evaluate("() => document.querySelectorAll('img').length") == 0
    assert page.evaluate("() => window.__pwned") is None


def test_html_in_titles_transcripts_names_and_comments_is_shown_as_text(site, open_page):
    segments = [dict(SEGMENTS[0], text=f"开头{ATTACK}结尾",
                     words=[{"start": 0.0, "end": 1.0, "text": "开头", "probability": 0.3},
                            {"start": 1.0, "end": 2.0, "text": ATTACK, "probability": 0.2}]), *SEGMENTS[1:]]
    transcript_id = site.make_transcript(segments, title=f"标题{ATTACK}")
    alerts: list[str] = []

    page = open_page("editor", "/console/transcripts")
    page.on("dialog", lambda dialog: (alerts.append(dialog.message), dialog.dismiss()))
    expect(page.get_by_role("link", name=f"标题{ATTACK}")).to_be_visible()
    assert_inert(page)

    page = open_transcript(open_page, "editor", transcript_id)
    expect(page.locator("#wb-title")).to_have_text(f"标题{ATTACK}")
    expect(textbox(page, "00:00:00")).to_have_value(f"开头{ATTACK}结尾")
    expect(page.locator(".seg").first.locator("mark.word-low")).to_have_count(2)  # the shading, as text too
    page.get_by_role("button", name="第 3 段说话人：SPEAKER_1").click()
    page.get_by_label("说话人", exact=True).select_option("__new")
    page.get_by_label("姓名（自由填写）").fill(f"李{ATTACK}")
    page.get_by_role("button", name="确定").click()
    expect(page.get_by_role("button", name=f"第 3 段说话人：李{ATTACK}")).to_be_visible()
    textbox(page, "00:00:05").fill(f"改成{ATTACK}")
    page.get_by_role("button", name="提交审核").click()
    expect(page.locator("#wb-status")).to_have_text("已校对待审定")
    page.get_by_role("button", name="修订记录").click()
    expect(page.get_by_role("dialog").locator("ins").first).to_contain_text(ATTACK)
    assert_inert(page)

    archivist = open_transcript(open_page, "archivist", transcript_id)
    archivist.get_by_role("button", name="退回", exact=True).click()
    archivist.get_by_label("退回意见").fill(f"请重听{ATTACK}")
    archivist.get_by_role("button", name="确认退回").click()
    expect(archivist.locator(".notice .comment-text")).to_have_text(f"请重听{ATTACK}")
    assert_inert(archivist)

    work = open_page("editor", "/console/")
    expect(work.locator("#notifications .comment")).to_have_text(f"请重听{ATTACK}")
    assert_inert(work)
    assert alerts == []
    assert current(site, transcript_id)["review_comment"] == f"请重听{ATTACK}", "stored as typed, shown as text"
