"""The archivists' desk in a real browser: a profile through submit, return with a comment, approval, the
publication checklist (each missing item fixed where it leads), a consent whose signed form goes up over tus from
the browser (interrupted and resumed), publication and withdrawal; an edit conflict between two browsers that
loses no typed text; failures in plain Chinese and an ended session that keep the work; and typed HTML shown as
text."""

from __future__ import annotations

import re

import requests
from playwright.sync_api import expect

from tests.conftest import PASSWORD
from tests.console.desk_helpers import INJECTION, create_person, person, png, record_consent, step, unique_tag

CHUNK = 1024 * 1024  # console/uploads.js sends tus chunks of 1 MiB


def status_of(page):
    return page.locator("#person-meta .person-status")


def test_a_profile_from_draft_through_review_consent_and_publication_to_withdrawal(open_page, site, problems,
                                                                                  screenshot, tmp_path):
    problems.allow_status(503)  # what the "proxy" answers while the consent form's upload is cut off
    created = create_person(site, "collector", name="顾秀兰", area={"district": "连云区"},
                            biography="三十年如一日照顾村里的孤寡老人。", tags=[unique_tag()])
    pid = created["id"]
    assert created["gender"] is None  # the checklist will ask for it

    collector = open_page("collector", f"/console/persons/{pid}")
    expect(collector.get_by_role("heading", name="顾秀兰", exact=True)).to_be_visible()
    for name in ("通过", "退回", "发布", "撤回"):
        expect(collector.get_by_role("button", name=name, exact=True)).to_be_hidden()
    collector.get_by_role("button", name="提交", exact=True).click()
    expect(status_of(collector)).to_have_text("待审核")
    expect(collector.get_by_role("button", name="提交", exact=True)).to_be_hidden()

    archivist = open_page("archivist", f"/console/persons/{pid}")
    expect(status_of(archivist)).to_have_text("待审核")
    expect(archivist.get_by_role("button", name="提交", exact=True)).to_be_hidden()
    expect(archivist.get_by_role("button", name="发布", exact=True)).to_be_hidden()
    archivist.get_by_role("button", name="退回", exact=True).click()
    dialog = archivist.get_by_role("dialog", name="退回档案")
    dialog.get_by_role("button", name="确认退回").click()
    expect(dialog.get_by_role("alert")).to_have_text("请填写退回意见，说明需要修改什么")
    dialog.get_by_label("退回意见（必填）").fill("请补充性别，并上传一张近照。")
    dialog.get_by_role("button", name="确认退回").click()
    expect(status_of(archivist)).to_have_text("已退回")
    expect(dialog).to_be_hidden()

    collector.reload()
    expect(collector.locator("#return-comment")).to_have_text("请补充性别，并上传一张近照。")
    expect(collector.locator("#notifications-list")).to_contain_text("请补充性别，并上传一张近照。")
    collector.get_by_role("button", name="提交", exact=True).click()
    expect(status_of(collector)).to_have_text("待审核")

    archivist.reload()
    archivist.get_by_role("button", name="通过", exact=True).click()
    expect(status_of(archivist)).to_have_text("已审核")
    checklist = archivist.get_by_role("region", name="发布检查")
    expect(checklist).to_be_visible()
    expect(checklist.get_by_role("link")).to_have_text(
        ["性别", "至少一份关联资料（授权书本身不算）", re.compile("^有效的公开授权书")])

    archivist.get_by_role("button", name="发布", exact=True).click()  # not yet: the checklist says why
    expect(archivist.get_by_role("alert").filter(has_text="发布前还需补充")).to_be_visible()
    assert person(site, pid)["status"] == "approved"

    checklist.get_by_role("link", name="性别").click()
    gender = archivist.get_by_label("性别", exact=True)
    expect(gender).to_be_focused()
    gender.select_option("female")
    archivist.get_by_role("button", name="保存", exact=True).click()
    expect(archivist.locator("#fields")).to_contain_text("女")
    expect(checklist.get_by_role("link")).to_have_count(2)

    checklist.get_by_role("link", name=re.compile("关联资料")).click()
    material_file = archivist.get_by_label(re.compile("^文件"))
    expect(material_file).to_be_focused()
    material_file.set_input_files(str(png(tmp_path / "photo.png", shade=pid)))
    archivist.get_by_label("标题").fill("近照")
    archivist.get_by_role("button", name="上传资料").click()
    expect(archivist.locator("#materials-list")).to_contain_text("近照")
    expect(checklist.get_by_role("link")).to_have_count(1)

    # The signed form, over tus from the browser; the connection breaks after the first 1 MiB chunk.
    form_path = png(tmp_path / "consent-form.png", 720, noise=True)
    assert form_path.stat().st_size > CHUNK
    patches: list[tuple[int, int]] = []
    broken = {"on": True}

    def proxy(route, request):
        if request.method == "PATCH":
            offset = int(request.headers["upload-offset"])
            if broken["on"] and offset > 0:
                patches.append((offset, 503))
                route.fulfill(status=503, body="", headers={"Tus-Resumable": "1.0.0"})
                return
            patches.append((offset, 204))
        route.continue_()

    archivist.route("**/api/v1/uploads/*", proxy)
    checklist.get_by_role("link", name=re.compile("公开授权书")).click()
    consent_file = archivist.get_by_label("签字的授权书（扫描件、照片或 PDF）")
    expect(consent_file).to_be_focused()
    consent_file.set_input_files(str(form_path))
    expect(archivist.get_by_label("授权范围")).to_have_value("public")
    archivist.get_by_label("签署日期").fill("2024-05-01")
    archivist.get_by_label("附加条件").fill("不公开家庭住址")
    archivist.get_by_role("button", name="上传并登记授权书").click()
    consent_form = archivist.locator("#consent-form")
    # tus-js-client tries again three times (after 0, 1 and 2 s), then leaves it to the user
    expect(consent_form.get_by_role("alert")).to_contain_text("服务器暂时无法接收文件（503）", timeout=15_000)
    expect(consent_form.get_by_text(re.compile(r"已上传 1\.0 MB"))).to_be_visible()
    expect(archivist.get_by_label("附加条件")).to_have_value("不公开家庭住址")
    broken["on"] = False
    archivist.get_by_role("button", name="继续上传").click()
    expect(archivist.locator("#consents-list")).to_contain_text("不公开家庭住址")
    accepted = [offset for offset, status in patches if status == 204]
    assert accepted == [0, CHUNK], f"the second chunk is sent once the line is back, not the whole file: {patches}"
    consent = site.api("GET", f"/api/v1/persons/{pid}/consents", "archivist").json()["items"][0]
    form_material = site.api("GET", f"/api/v1/materials/{consent['material_id']}", "archivist").json()
    assert consent["scope"] == "public" and consent["signed_at"] == "2024-05-01"
    assert form_material["size"] == form_path.stat().st_size
    archivist.unroute("**/api/v1/uploads/*")

    expect(checklist).to_contain_text("发布条件已全部满足")
    archivist.get_by_role("button", name="发布", exact=True).click()
    archivist.get_by_role("dialog", name="发布档案").get_by_role("button", name="确认发布").click()
    expect(status_of(archivist)).to_have_text("已发布")
    assert requests.get(f"{site.base}/api/public/persons/{pid}", timeout=30).status_code == 200
    expect(archivist.locator("#audit-list")).to_contain_text("发布")
    screenshot(archivist, "person-published")

    archivist.get_by_role("button", name="撤回", exact=True).click()
    archivist.get_by_role("dialog", name="撤回档案").get_by_role("button", name="确认撤回").click()
    expect(status_of(archivist)).to_have_text("已撤回")
    assert requests.get(f"{site.base}/api/public/persons/{pid}", timeout=30).status_code == 404

    archivist.get_by_role("button", name=re.compile("^撤回授权")).click()
    withdraw = archivist.get_by_role("dialog", name="撤回授权书")
    withdraw.get_by_label("撤回原因（可不填）").fill("家属要求")
    withdraw.get_by_role("button", name="确认撤回授权").click()
    expect(archivist.locator("#consents-list")).to_contain_text("家属要求")
    assert site.api("GET", f"/api/v1/persons/{pid}/consents", "archivist").json()["items"][0]["active"] is False


def test_an_edit_conflict_between_two_browsers_loses_no_typed_text(open_page, site, problems):
    problems.allow_status(412)
    pid = create_person(site, "editor", name="周德明", biography="原来的事迹。", occupation="教师")["id"]
    first = open_page("editor", f"/console/persons/{pid}")
    second = open_page("editor-2", f"/console/persons/{pid}")
    for page in (first, second):
        page.get_by_role("button", name="编辑", exact=True).click()

    first.get_by_label("事迹/生平").fill("张编辑写的事迹。")
    first.get_by_label("职业或领域").fill("退休教师")
    first.get_by_role("button", name="保存", exact=True).click()
    expect(first.locator("#fields")).to_contain_text("张编辑写的事迹。")

    typed = "李编辑逐字录入的事迹：1958 年创办夜校，\n教村民识字。"
    second.get_by_label("事迹/生平").fill(typed)
    second.reload()  # unsaved text survives a reload: the form comes back as it was typed
    expect(second.get_by_label("事迹/生平")).to_have_value(typed)
    expect(second.get_by_text("已恢复您上次未保存的修改")).to_be_visible()
    second.get_by_role("button", name="保存", exact=True).click()
    conflict = second.locator("#edit-conflict")
    expect(conflict).to_contain_text("此档案在您编辑期间已被他人修改")
    expect(conflict.locator(".their-version")).to_have_text("张编辑写的事迹。")
    expect(second.get_by_label("事迹/生平")).to_have_value(typed)
    expect(second.get_by_label("职业或领域")).to_have_value("退休教师")  # changed only by the other: taken
    second.get_by_role("button", name="保留我的修改并保存").click()
    expect(second.locator("#fields")).to_contain_text("1958 年创办夜校")
    saved = person(site, pid)
    assert saved["biography"] == typed and saved["occupation"] == "退休教师"
    assert saved["version"] == 3


def test_a_lost_connection_or_a_failing_server_keeps_what_was_typed(open_page, site, problems):
    problems.allow_status(502)
    problems.allow_text("net::ERR_INTERNET_DISCONNECTED")
    pid = create_person(site, "editor", name="钱桂芳")["id"]
    page = open_page("editor", f"/console/persons/{pid}")
    page.get_by_role("button", name="编辑", exact=True).click()
    page.get_by_label("事迹/生平").fill("断网前录入的事迹。")

    page.context.set_offline(True)
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_role("alert").filter(has_text="网络连接中断")).to_be_visible()
    expect(page.get_by_label("事迹/生平")).to_have_value("断网前录入的事迹。")
    page.context.set_offline(False)

    page.route(f"**/api/v1/persons/{pid}", lambda route: route.fulfill(
        status=502, content_type="text/html", body="<html><body>502 Bad Gateway</body></html>")
        if route.request.method == "PATCH" else route.continue_())
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#edit-status")).to_contain_text("服务器暂时无法访问")
    expect(page.get_by_text("Bad Gateway")).to_have_count(0)
    page.unroute(f"**/api/v1/persons/{pid}")

    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#fields")).to_contain_text("断网前录入的事迹。")
    assert person(site, pid)["biography"] == "断网前录入的事迹。"


def test_typed_html_is_shown_as_text_everywhere_on_the_desk(open_page, site):
    tag = unique_tag()
    name = f"{INJECTION}吴"
    pid = create_person(site, "collector", name=name, biography=f"事迹 {INJECTION}", tags=[tag])["id"]
    step(site, pid, "collector", "submit")
    step(site, pid, "archivist", "return", comment=f"意见 {INJECTION}")
    record_consent(site, pid, conditions=f"条件 {INJECTION}")

    listing = open_page("archivist", f"/console/persons?tag={tag}")
    expect(listing.get_by_role("link", name=name)).to_be_visible()
    profile = open_page("collector", f"/console/persons/{pid}")
    expect(profile.get_by_role("heading", level=1)).to_have_text(name)
    expect(profile.locator("#fields")).to_contain_text(f"事迹 {INJECTION}")
    expect(profile.locator("#return-comment")).to_have_text(f"意见 {INJECTION}")
    expect(profile.locator("#consents-list")).to_contain_text(f"条件 {INJECTION}")
    expect(profile.locator("#notifications-list")).to_contain_text(f"意见 {INJECTION}")
    archivist = open_page("archivist", f"/console/persons/{pid}")
    expect(archivist.locator("#audit-list")).to_contain_text(f"意见 {INJECTION}")
    for page in (listing, profile, archivist):
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("() => window.__pwned") is None


def test_an_ended_session_sends_the_user_to_log_in_and_the_typed_text_is_there_on_return(open_page, site, problems):
    problems.allow_status(401)
    pid = create_person(site, "editor", name="孙立华")["id"]
    page = open_page("editor", f"/console/persons/{pid}")
    page.get_by_role("button", name="编辑", exact=True).click()
    page.get_by_label("事迹/生平").fill("会话结束前录入的事迹。")
    page.context.clear_cookies()  # the session is over (logged out elsewhere, or the browser was closed)
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page).to_have_url(re.compile(r"/console/login\?next="))
    page.get_by_label("用户名").fill("editor")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).to_have_url(f"/console/persons/{pid}")
    expect(page.get_by_label("事迹/生平")).to_have_value("会话结束前录入的事迹。")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.locator("#fields")).to_contain_text("会话结束前录入的事迹。")
    assert person(site, pid)["biography"] == "会话结束前录入的事迹。"
