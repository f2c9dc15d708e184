"""The archivists' desk in a real browser: the persons list with the API's filters, pinyin and initials search,
sort and paging kept in the address; the statistics as SVG charts with their numbers; and no serious or critical
accessibility violation on the persons list, a full profile (thumbnails, a PDF's first page, players) and the
statistics page, each saved as a screenshot."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from playwright.sync_api import expect

from tests.console.desk_helpers import (create_person, pdf, png, record_consent, seed_recordings, step,
                                         unique_tag, upload_processed)


CHINA = timezone(timedelta(hours=8))


def names_in(page):
    return page.locator("#persons-body .person-link")


def test_the_persons_list_filters_searches_by_pinyin_sorts_and_pages(open_page, site):
    tag = unique_tag()
    for name, category, district in (("张三丰", "notable", "海州区"), ("李四", "good_person", "连云区"),
                                     ("王五", "local_worthy", "海州区"), ("赵六", "good_person", "海州区"),
                                     ("张小三", "good_person", "赣榆区")):
        created = create_person(site, "collector", name=name, category=category, area={"district": district},
                                tags=[tag])
        if name == "赵六":
            step(site, created["id"], "collector", "submit")

    page = open_page("archivist", f"/console/persons?tag={tag}&sort=pinyin")
    expect(names_in(page)).to_have_text(["李四", "王五", "张三丰", "张小三", "赵六"])
    expect(page.get_by_label("标签")).to_have_value(tag)
    expect(page.locator("#result-summary")).to_have_text("共 5 份档案")

    page.get_by_label("类别").select_option("notable")
    expect(names_in(page)).to_have_text(["张三丰"])
    expect(page).to_have_url(re.compile(r"\?category=notable&tag=.+&sort=pinyin$"))
    page.get_by_label("类别").select_option("")

    search = page.get_by_label("搜索")
    search.fill("zhangsan")  # searched as typed, after a short pause
    expect(names_in(page)).to_have_text(["张三丰"])
    for typed, found in (("zsf", ["张三丰"]), ("zhs", ["张三丰"]), ("张", ["张三丰", "张小三"]),
                         ("xiaosan", ["张小三"]), ("无此人", [])):
        search.fill(typed)
        search.press("Enter")
        expect(names_in(page)).to_have_text(found)
    expect(page.locator("#persons-body")).to_contain_text("没有符合条件的人物档案")
    search.fill("")
    page.get_by_label("地区").fill("海州区")
    page.get_by_role("button", name="筛选").click()
    expect(names_in(page)).to_have_text(["王五", "张三丰", "赵六"])
    page.get_by_label("状态").select_option("submitted")
    expect(names_in(page)).to_have_text(["赵六"])

    page.goto(f"/console/persons?tag={tag}&sort=-pinyin&per_page=2")
    expect(names_in(page)).to_have_text(["赵六", "张小三"])
    expect(page.locator("#page-info")).to_have_text("第 1 / 3 页")
    expect(page.get_by_role("button", name="上一页")).to_be_disabled()
    page.get_by_role("button", name="下一页").click()
    expect(names_in(page)).to_have_text(["张三丰", "王五"])
    expect(page).to_have_url(re.compile(r"&sort=-pinyin&page=2&per_page=2$"))
    page.go_back()
    expect(names_in(page)).to_have_text(["赵六", "张小三"])
    page.get_by_role("link", name="张小三").click()
    expect(page.get_by_role("heading", name="张小三", exact=True)).to_be_visible()


def test_the_desk_pages_have_no_serious_accessibility_violations(open_page, site, axe_scan, screenshot, tmp_path):
    tag = unique_tag()
    full = create_person(site, "collector", category="notable", name="沈雅琴", aliases=["沈老师"], gender="female",
                         ethnicity="汉族", birth_date="1941-03", native_place="江苏连云港",
                         area={"district": "海州区", "town": "新坝镇", "village": "前进村"}, occupation="淮海戏演员",
                         honours=[{"title": "省级非遗代表性传承人", "year": 2009, "conferred_by": "江苏省文化厅"}],
                         biography="十二岁登台，演唱淮海戏六十年。\n\n培养学生三十余人。", tags=[tag, "非遗"],
                         id_number="320781193805120013", phone="13812345678", address="海州区新坝镇前进村8号")
    pid = full["id"]
    upload_processed(site, png(tmp_path / "portrait.png", 240, shade=pid), title="演出照", person_id=pid)
    upload_processed(site, pdf(tmp_path / "certificate.pdf", shade=pid), title="传承人证书", person_id=pid)
    audio = site.record_audio(1.0, "淮海戏选段")
    linked = site.api("POST", f"/api/v1/materials/{audio}/persons", "archivist", json={"person_id": pid})
    assert linked.status_code in (200, 201), linked.text
    record_consent(site, pid, conditions="不公开家庭住址")
    step(site, pid, "collector", "submit")
    step(site, pid, "archivist", "approve")

    listing = open_page("archivist", f"/console/persons?tag={tag}")
    expect(names_in(listing)).to_have_text(["沈雅琴"])
    screenshot(listing, "persons")
    assert axe_scan(listing) == []

    profile = open_page("archivist", f"/console/persons/{pid}")
    expect(profile.get_by_role("region", name="发布检查")).to_contain_text("发布条件已全部满足")
    materials = profile.locator("#materials-list")
    expect(materials.get_by_role("img", name="演出照")).to_be_visible()
    expect(materials.get_by_role("img", name="传承人证书（第一页）")).to_be_visible()
    expect(materials.locator("audio")).to_have_attribute("src", f"/api/v1/materials/{audio}/content?variant=proxy")
    materials.scroll_into_view_if_needed()  # thumbnails load lazily, when they come into view
    profile.wait_for_function("""() => [...document.querySelectorAll('#materials-list img')]
        .every((img) => img.complete && img.naturalWidth > 0)""")
    expect(profile.locator("#fields")).to_contain_text("320781193805120013")  # in full: an archivist
    expect(profile.locator("#audit-list")).to_contain_text("审核通过 · 赵档案")
    screenshot(profile, "person")
    assert axe_scan(profile) == []
    profile.get_by_role("button", name="编辑", exact=True).click()
    expect(profile.get_by_label("身份证号")).to_have_value("320781193805120013")
    assert axe_scan(profile) == []

    tablet = open_page("archivist", f"/console/persons/{pid}", viewport={"width": 768, "height": 1024})
    expect(tablet.get_by_role("button", name="发布", exact=True)).to_be_in_viewport()
    expect(tablet.locator("#consents-list")).to_contain_text("不公开家庭住址")
    expect(tablet.locator("#materials-list")).to_contain_text("演出照")
    assert tablet.evaluate("() => document.documentElement.scrollWidth <= innerWidth"), "no sideways scrolling"
    screenshot(tablet, "person-tablet")

    editor = open_page("editor", f"/console/persons/{pid}")  # personal data masked, as the API gives it
    expect(editor.locator("#fields")).to_contain_text("138****5678（部分隐去）")
    expect(editor.locator("#fields")).not_to_contain_text("13812345678")
    expect(editor.locator("#audit")).to_be_hidden()
    for name in ("编辑", "提交", "通过", "退回", "发布", "撤回"):
        expect(editor.get_by_role("button", name=name, exact=True)).to_be_hidden()

    now_here = datetime.now(CHINA)
    two_months_ago = (now_here.replace(day=1) - timedelta(days=40)).replace(day=15)
    seed_recordings(site, {1.5: now_here, 3.0: two_months_ago})
    stats = open_page("archivist", "/console/stats")
    expect(stats.locator("#stats-generated")).to_contain_text("统计时间")
    monthly = stats.get_by_role("img", name="每月时长（小时）")
    bars = monthly.locator("rect.bar")
    expect(bars).to_have_count(12 * 4)
    expect(stats.get_by_role("img", name="人物档案：按类别").locator("rect.bar")).to_have_count(3)
    answer = site.api("GET", "/api/v1/stats?months=12", "archivist").json()
    series = answer["hours_by_month"]
    months = [row["month"] for row in series]
    assert months[-1] == now_here.strftime("%Y-%m") and months[-3] == two_months_ago.strftime("%Y-%m")
    # the collected column (the first of each month's four) is drawn to scale
    now, before = series[-1]["collected"], series[-3]["collected"]
    assert now >= 1.5 and before >= 3.0
    expect(bars.nth(11 * 4).locator("title")).to_have_text(f"{months[-1]} 采集：{now:g} 小时")
    heights = [float(bars.nth(index).get_attribute("height")) for index in (11 * 4, 9 * 4)]
    assert abs(heights[0] / heights[1] - now / before) < 0.01, heights
    expect(stats.locator("#totals")).to_contain_text(f"人物档案{answer['persons']['total']} 份")
    screenshot(stats, "stats")
    assert axe_scan(stats) == []
    stats.get_by_text("查看数据表").first.click()
    expect(stats.locator("#table-monthly tbody tr").last.locator("th, td")).to_have_text(
        [series[-1]["month"], *(f"{series[-1][key]:.2f}" for key in ("collected", "transcribed", "reviewed",
                                                                      "approved"))])
    stats.get_by_label("统计月数").select_option("24")
    expect(bars).to_have_count(24 * 4)
