"""The editors' workbench in a real browser: the queue, claiming on open, playing and seeking, a keyboard-only edit,
split, merge and save, conflicts between two browsers that lose no text, unsaved text surviving a reload and a new
login, revisions and their diff, review and approval, speakers, redactions, exports."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.conftest import PASSWORD

WORDS = [{"start": 0.0, "end": 0.4, "text": "我", "probability": 0.95},
         {"start": 0.4, "end": 0.8, "text": "叫", "probability": 0.93},
         {"start": 0.8, "end": 1.6, "text": "王秀英", "probability": 0.32},
         {"start": 1.6, "end": 2.5, "text": "今年八十三岁", "probability": 0.66}]
SEGMENTS = [
    {"start": 0.0, "end": 2.5, "text": "我叫王秀英，今年八十三岁。", "speaker": "SPEAKER_1", "words": WORDS},
    {"start": 2.5, "end": 5.0, "text": "小时候家里在新坝镇打鱼。", "speaker": "SPEAKER_1", "flagged": True},
    {"start": 5.5, "end": 8.0, "text": "那时候日子很苦。", "speaker": "SPEAKER_1"},
    {"start": 8.0, "end": 10.0, "text": "您还记得哪一年吗？", "speaker": "SPEAKER_2", "flagged": True,
     "meta": {"flags": [{"reason": "high_no_speech_prob", "value": 0.8, "threshold": 0.6}]}},
]


def textbox(page: Any, start: str) -> Any:
    """A segment's textbox, found as a user of a screen reader would: by the start time its name begins with."""
    return page.get_by_role("textbox", name=re.compile(f"^{start}"))


def open_transcript(open_page: Any, user: str, transcript_id: int) -> Any:
    page = open_page(user, f"/console/transcripts/{transcript_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    return page


def current(site: Any, transcript_id: int, user: str = "editor") -> dict[str, Any]:
    answer = site.api("GET", f"/api/v1/transcripts/{transcript_id}", user)
    assert answer.status_code == 200, answer.text
    return answer.json()


def audio_time(page: Any) -> float:
    return page.evaluate("() => document.querySelector('#player audio').currentTime")


def test_the_queue_leads_to_a_claimed_transcript_and_others_are_told_who_holds_it(site, open_page, problems,
                                                                               screenshot, axe_scan):
    transcript_id = site.make_transcript(SEGMENTS, title="队列里的采访")
    page = open_page("editor", "/console/transcripts?status=machine")
    row = page.get_by_role("row").filter(has_text="队列里的采访")
    expect(row).to_contain_text("机器转写")
    expect(row).to_contain_text("无人认领")
    expect(row).to_contain_text("王采集")
    screenshot(page, "queue")
    assert axe_scan(page) == []
    page.get_by_label("状态").select_option("approved")
    expect(page.get_by_role("row").filter(has_text="队列里的采访")).to_have_count(0)
    expect(page).to_have_url(re.compile(r"status=approved"))
    page.get_by_role("button", name="清除筛选").click()
    page.get_by_role("link", name="队列里的采访").click()

    expect(page).to_have_url(f"/console/transcripts/{transcript_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(page.get_by_text("您已认领此转写稿，锁定至")).to_be_visible()
    expect(textbox(page, "00:00:02")).to_have_value("小时候家里在新坝镇打鱼。")
    expect(page.locator(".seg").nth(1)).to_contain_text("待核：识别置信度低")
    expect(page.locator(".seg").nth(3)).to_contain_text("待核：可能没有人声")
    expect(page.locator(".seg").first.locator("mark.word-low")).to_have_text("王秀英")
    expect(page.locator(".seg").first.locator("mark.word-unsure")).to_have_text("今年八十三岁")
    for name in ("播放/暂停", "保存", "拆分", "合并", "提交审核", "通过", "退回"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    page.wait_for_function("() => document.querySelector('#waveform div')?.shadowRoot?.querySelector('canvas')")
    screenshot(page, "transcript")
    assert axe_scan(page) == []
    assert current(site, transcript_id)["lock"]["holder"]["username"] == "editor"

    problems.allow_status(423)
    other = open_transcript(open_page, "editor-2", transcript_id)
    expect(other.get_by_text(re.compile("此转写稿正由张编辑校对，锁定至 \\d\\d:\\d\\d"))).to_be_visible()
    expect(textbox(other, "00:00:00")).to_have_attribute("readonly", "")
    expect(other.get_by_role("button", name="保存", exact=True)).to_be_disabled()
    other.goto("/console/transcripts")
    expect(other.get_by_role("row").filter(has_text="队列里的采访")).to_contain_text(re.compile("张编辑（至 \\d\\d:\\d\\d）"))


def test_play_seek_follow_speed_and_resume_two_seconds_earlier(site, open_page):
    transcript_id = site.make_transcript(SEGMENTS, title="播放测试")
    media_requests: list[tuple[str, str]] = []
    page = open_page("editor", None)
    page.on("request", lambda request: media_requests.append((request.resource_type, request.url))
            if "/content?" in request.url else None)
    page.goto(f"/console/transcripts/{transcript_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    page.get_by_role("button", name="播放/暂停").click()
    page.wait_for_function("() => document.querySelector('#player audio').currentTime > 0.3")
    expect(page.get_by_role("button", name="播放/暂停")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    expect(page.get_by_role("button", name="播放/暂停")).to_have_attribute("aria-pressed", "false")

    page.get_by_role("button", name="跳到 00:00:05").click()  # a click on a segment seeks to it
    assert abs(audio_time(page) - 5.5) < 0.05
    expect(page.locator(".seg.playing")).to_have_attribute("data-index", "2")
    page.keyboard.press("Alt+K")
    page.wait_for_function("() => document.querySelector('#player audio').currentTime > 8.2")
    expect(page.locator(".seg.playing")).to_have_attribute("data-index", "3")  # the highlight follows playback
    page.keyboard.press("Alt+K")
    paused_at = audio_time(page)
    page.keyboard.press("Alt+K")
    resumed_at = page.evaluate("() => document.querySelector('#player audio').currentTime")
    assert paused_at - 2.3 < resumed_at < paused_at - 1.5, (paused_at, resumed_at)
    page.keyboard.press("Escape")

    page.keyboard.press("Alt+J")
    assert abs(audio_time(page) - (paused_at - 2 - 3)) < 0.6
    page.keyboard.press("Alt+3")
    expect(page.get_by_label("速度", exact=True)).to_have_value("1.25")
    page.keyboard.press("Alt+Equal")
    expect(page.get_by_label("速度", exact=True)).to_have_value("1.5")
    page.keyboard.press("Alt+1")
    assert page.evaluate("() => document.querySelector('#player audio').playbackRate") == 0.75
    # The recording is streamed by the audio element (Range requests), the waveform drawn from the stored peaks:
    # the page never fetches the audio to decode it.
    kinds = {(kind, url.split("variant=")[1]) for kind, url in media_requests}
    assert kinds == {("media", "proxy"), ("fetch", "waveform")}, media_requests


def test_failures_are_told_in_plain_chinese_and_keep_the_typed_text(site, open_page, problems):
    problems.allow_status(500)
    problems.allow_text("net::ERR_FAILED")
    transcript_id = site.make_transcript(SEGMENTS, title="故障测试")
    page = open_transcript(open_page, "editor", transcript_id)
    textbox(page, "00:00:05").fill("断网时写的字。")
    page.route("**/segments", lambda route: route.abort())
    page.keyboard.press("Control+S")
    expect(page.get_by_role("alert")).to_contain_text("网络连接中断，您的修改仍保留在本页")
    page.unroute("**/segments")
    page.route("**/segments", lambda route: route.fulfill(
        status=500, content_type="text/html", body="<h1>Internal Server Error</h1><pre>Traceback (most recent call last)</pre>"))
    page.keyboard.press("Control+S")
    expect(page.get_by_role("alert").last).to_contain_text("服务器出错（500），请稍后重试；您的修改仍保留在本页")
    assert "Traceback" not in page.locator("body").inner_text()
    expect(textbox(page, "00:00:05")).to_have_value("断网时写的字。")
    expect(page.locator("#save-state")).to_have_text("1 段未保存")
    page.unroute("**/segments")
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")
    assert current(site, transcript_id)["segments"][2]["text"] == "断网时写的字。"


def test_a_keyboard_only_edit_split_merge_and_save(site, open_page):
    transcript_id = site.make_transcript(SEGMENTS, title="键盘校对")
    page = open_transcript(open_page, "editor", transcript_id)
    page.keyboard.press("Alt+ArrowDown")  # to the second segment, then back to the first
    expect(textbox(page, "00:00:02")).to_be_focused()
    page.keyboard.press("Alt+ArrowUp")
    expect(textbox(page, "00:00:00")).to_be_focused()
    page.keyboard.press("Alt+K")  # playing while typing: the typing pauses it
    page.wait_for_function("() => document.querySelector('#player audio').currentTime > 0.2")
    page.keyboard.press("End")
    page.keyboard.type("（笑）")
    expect(page.get_by_role("button", name="播放/暂停")).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#save-state")).to_have_text("1 段未保存")
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")
    stored = current(site, transcript_id)
    assert stored["segments"][0]["text"] == "我叫王秀英，今年八十三岁。（笑）" and stored["version"] == 2

    page.keyboard.press("Home")
    for _ in range(5):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Alt+Enter")  # split at the caret: at the start of the word after it
    expect(page.locator(".seg")).to_have_count(5)
    expect(textbox(page, "00:00:00")).to_have_value("我叫王秀英")
    expect(textbox(page, "00:00:01")).to_have_value("，今年八十三岁。（笑）")
    expect(textbox(page, "00:00:01")).to_be_focused()
    split = current(site, transcript_id)["segments"]
    assert (split[0]["end"], split[1]["start"], split[1]["end"]) == (1.6, 1.6, 2.5)

    page.keyboard.press("Alt+ArrowUp")
    page.keyboard.press("Alt+M")  # merge with the next
    expect(page.locator(".seg")).to_have_count(4)
    expect(textbox(page, "00:00:00")).to_have_value("我叫王秀英，今年八十三岁。（笑）")
    page.keyboard.type("嗯")  # the caret sits where the two were joined
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")

    stored = current(site, transcript_id)
    assert stored["segments"][0]["text"] == "我叫王秀英嗯，今年八十三岁。（笑）"
    revisions = site.api("GET", f"/api/v1/transcripts/{transcript_id}/revisions", "editor").json()["items"]
    assert [r["summary"] for r in revisions][:4] == ["bulk save 1 segment", "merge 0-1", "split 0", "bulk save 1 segment"]
    assert all(r["created_by"]["username"] == "editor" for r in revisions[:4])


def test_a_conflict_between_two_browsers_loses_no_text(site, open_page, problems, screenshot):
    problems.allow_status(412)
    transcript_id = site.make_transcript(SEGMENTS, title="冲突测试")
    first = open_transcript(open_page, "editor", transcript_id)
    second = open_transcript(open_page, "editor", transcript_id)  # the same editor in a second browser

    textbox(first, "00:00:05").fill("那时候日子很苦很苦。")
    first.get_by_role("button", name="保存", exact=True).click()
    expect(first.locator("#save-state")).to_have_text("已全部保存")

    textbox(second, "00:00:05").fill("那时候的日子真苦。")
    textbox(second, "00:00:08").fill("您还记得是哪一年吗？")  # nobody else touched this one
    second.get_by_role("button", name="保存", exact=True).click()
    conflict = second.get_by_role("dialog", name="他人同时修改了这些段落")
    expect(conflict).to_contain_text("那时候日子很苦很苦。")
    expect(conflict).to_contain_text("那时候的日子真苦。")
    screenshot(second, "conflict")
    conflict.get_by_role("button", name="稍后处理（保留我的修改）").click()
    expect(second.locator("#save-state")).to_have_text("2 段未保存")

    second.on("dialog", lambda prompt: prompt.accept())  # "leave the page with unsaved changes?"
    second.reload()  # the typed text survives a reload
    expect(second.locator("body")).to_have_attribute("data-ready", "true")
    expect(textbox(second, "00:00:05")).to_have_value("那时候的日子真苦。")
    expect(textbox(second, "00:00:08")).to_have_value("您还记得是哪一年吗？")
    second.keyboard.press("Control+S")
    expect(second.locator("#save-state")).to_have_text("已全部保存")
    stored = current(site, transcript_id)
    assert [s["text"] for s in stored["segments"][2:]] == ["那时候的日子真苦。", "您还记得是哪一年吗？"]
    first_save = site.api("GET", f"/api/v1/transcripts/{transcript_id}/revisions/2", "editor").json()
    assert first_save["segments"][2]["text"] == "那时候日子很苦很苦。", "the other edit is kept as a revision"

    # Now the first browser is behind: its edit meets the second's, and the editor picks theirs side by side.
    textbox(first, "00:00:05").fill("第一台电脑的新文字。")
    first.get_by_role("button", name="保存", exact=True).click()
    dialog = first.get_by_role("dialog", name="他人同时修改了这些段落")
    expect(dialog).to_contain_text("那时候的日子真苦。")
    dialog.get_by_role("button", name="用他人的").click()
    expect(dialog.get_by_role("textbox")).to_have_value("那时候的日子真苦。")
    dialog.get_by_role("textbox").fill("那时候的日子真苦，第一台电脑补充。")
    dialog.get_by_role("button", name="按所选保存").click()
    expect(first.locator("#save-state")).to_have_text("已全部保存")
    assert current(site, transcript_id)["segments"][2]["text"] == "那时候的日子真苦，第一台电脑补充。"


def test_unsaved_text_survives_an_ended_session_and_a_new_login(site, open_page, problems):
    problems.allow_status(401)
    transcript_id = site.make_transcript(SEGMENTS, title="会话过期")
    page = open_transcript(open_page, "editor", transcript_id)
    textbox(page, "00:00:02").fill("小时候家里在新坝镇打鱼，也种地。")
    page.context.clear_cookies()  # the session is gone (expired, or ended elsewhere)
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"/console/transcripts/{transcript_id}")
    expect(page.locator("body")).to_have_attribute("data-ready", "true")
    expect(textbox(page, "00:00:02")).to_have_value("小时候家里在新坝镇打鱼，也种地。")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#save-state")).to_have_text("已全部保存")
    assert current(site, transcript_id)["segments"][1]["text"] == "小时候家里在新坝镇打鱼，也种地。"


def test_revisions_diff_and_revert(site, open_page, screenshot):
    transcript_id = site.make_transcript(SEGMENTS, title="修订记录")
    page = open_transcript(open_page, "editor", transcript_id)
    textbox(page, "00:00:05").fill("那时候日子苦。")
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")
    textbox(page, "00:00:08").fill("您记得哪一年吗？")
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")

    page.get_by_role("button", name="修订记录").click()
    revisions = page.get_by_role("dialog", name="修订记录")
    expect(revisions.get_by_role("row")).to_have_count(4)  # the header, the machine's and two saves
    revisions.get_by_label("从").select_option("1")
    revisions.get_by_role("button", name="比较").click()
    expect(revisions).to_contain_text("第 1 版 → 第 3 版：新增 0、删除 0、修改 2 段")
    expect(revisions.locator("del").first).to_have_text("很")
    expect(revisions.locator("ins, del")).to_have_count(2)
    screenshot(page, "revisions")
    revisions.get_by_role("button", name="恢复到第 1 版").click()
    expect(textbox(page, "00:00:05")).to_have_value("那时候日子很苦。")
    stored = current(site, transcript_id)
    assert stored["version"] == 4 and stored["segments"][3]["text"] == "您还记得哪一年吗？"


def test_review_approve_and_return_with_a_comment(site, open_page, problems):
    transcript_id = site.make_transcript(SEGMENTS, title="审定流程")
    page = open_transcript(open_page, "editor", transcript_id)
    textbox(page, "00:00:00").fill("我叫王秀英，今年八十三了。")
    page.get_by_role("button", name="提交审核").click()  # saves first, then marks it reviewed
    expect(page.locator("#wb-status")).to_have_text("已校对待审定")
    stored = current(site, transcript_id)
    assert stored["status"] == "reviewed" and stored["segments"][0]["text"] == "我叫王秀英，今年八十三了。"
    assert stored["lock"] is None

    archivist = open_transcript(open_page, "archivist", transcript_id)
    archivist.get_by_role("button", name="通过", exact=True).click()
    archivist.get_by_role("dialog").get_by_role("button", name="确认通过").click()
    expect(archivist.locator("#wb-status")).to_have_text("已审定")
    expect(textbox(archivist, "00:00:00")).to_have_attribute("readonly", "")
    assert current(site, transcript_id)["status"] == "approved"

    archivist.get_by_role("button", name="退回", exact=True).click()
    archivist.get_by_label("退回意见").fill("第一段年龄请再听一遍")
    archivist.get_by_role("button", name="确认退回").click()
    expect(archivist.locator("#wb-status")).to_have_text("校对中")
    expect(archivist.get_by_text("第一段年龄请再听一遍")).to_be_visible()
    work = open_page("editor", "/console/")
    expect(work.locator("#notifications")).to_contain_text("第一段年龄请再听一遍")


def test_speaker_redaction_and_exports(site, open_page):
    transcript_id = site.make_transcript(SEGMENTS, title="说话人与导出")
    page = open_transcript(open_page, "editor", transcript_id)
    page.get_by_role("button", name="第 4 段说话人：SPEAKER_2").click()
    speaker = page.get_by_role("dialog")
    speaker.get_by_label("说话人", exact=True).select_option("__new")
    speaker.get_by_label("姓名（自由填写）").fill("采访人 李华")
    speaker.get_by_role("button", name="确定").click()
    expect(page.get_by_role("button", name="第 4 段说话人：采访人 李华")).to_be_visible()
    page.keyboard.press("Control+S")
    expect(page.locator("#save-state")).to_have_text("已全部保存")
    stored = current(site, transcript_id)
    label = stored["segments"][3]["speaker"]
    assert stored["speakers"][label] == {"name": "采访人 李华"}

    page.get_by_role("button", name="跳到 00:00:02").click()
    page.get_by_role("button", name="标记限制片段").click()
    redaction = page.get_by_role("dialog", name="标记限制公开的片段")
    expect(redaction.get_by_label("起点（时:分:秒）")).to_have_value("00:00:02.5")
    redaction.get_by_label("原因").select_option("privacy")
    redaction.get_by_role("button", name="标记").click()
    expect(page.locator("#redactions")).to_contain_text("00:00:02.5 – 00:00:05.0 涉及隐私")
    expect(page.locator(".seg").nth(1)).to_contain_text("限制公开")
    ranges = site.api("GET", f"/api/v1/transcripts/{transcript_id}/redactions", "editor").json()["items"]
    assert [(r["start"], r["end"], r["reason"]) for r in ranges] == [(2.5, 5.0, "privacy")]

    for kind, expected in (("SRT", "00:00:00,000 --> 00:00:02,500"), ("TXT", "我叫王秀英")):
        with page.expect_download() as download:
            page.get_by_role("link", name=kind, exact=True).click()
        path = download.value.path()
        assert download.value.suggested_filename.endswith(f".{kind.lower()}")
        assert expected in open(path, encoding="utf-8").read()
