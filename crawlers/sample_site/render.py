"""HTML for the sample site, rendered from data/questions.json to ../shared/reference/yixinli.md.

Variety that a real site shows is rendered on purpose: answer ids sometimes only in the share link,
three kinds of counselor signal, anonymous askers, `<br>` bodies, HTML entities, a missing view count.
`layout="changed"` renames the classes the spiders select on in question and topic pages,
`layout="changed-list"` in list pages too (the layout-drift test sites).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

DATA_FILE = Path(__file__).parent / "data" / "questions.json"
LIST_PAGE_SIZE = 10
ANSWER_PAGE_SIZE = 10
DOUBAN_LIST_PAGE_SIZE = 5
DOUBAN_REPLY_PAGE_SIZE = 5

# Characters written as named entities, so the spider's entity decoding is exercised.
_ENTITIES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "“": "&ldquo;",
    "”": "&rdquo;",
    "…": "&hellip;",
}

# Class names the spiders select on; the changed layout renames them all.
_RENAMED = {
    "content": "qa-rows",
    "title": "q-head",
    "label": "q-meta",
    "read-capacity": "q-stats",
    "absoulte-img": "q-views",
    "text": "q-body",
    "content-ans": "answer-list",
    "answer_zan": "answer-like",
    "comment_item": "answer-comments",
    "created_time": "answer-time",
    "username": "nick",
    "olt": "topic-table",
    "topic-content": "topic-body",
    "reply-content": "reply-body",
    "pubtime": "reply-time",
}


@cache
def load_data(path: str = str(DATA_FILE)) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def escape(text: str) -> str:
    return "".join(_ENTITIES.get(ch, ch) for ch in text)


class Renderer:
    def __init__(self, data: dict[str, Any], layout: str = "standard", broken_pages: bool = False):
        self.questions = data["yixinli"]["questions"]
        self.by_id = {q["id"]: q for q in self.questions}
        self.group = data["douban"]["group"]
        self.topics = data["douban"]["topics"]
        self.topics_by_id = {t["id"]: t for t in self.topics}
        self.changed = layout in ("changed", "changed-list")
        self.changed_list = layout == "changed-list"
        self.broken_pages = broken_pages

    def c(self, name: str) -> str:
        """A class name on question / topic pages."""
        return _RENAMED.get(name, name) if self.changed else name

    def cl(self, name: str) -> str:
        """A class name on list pages (renamed only in the changed-list layout)."""
        return _RENAMED.get(name, name) if self.changed_list else name

    # ------------------------------------------------------------------ yixinli
    def listed_questions(self, object_name: str) -> list[dict[str, Any]]:
        rows = sorted(self.questions, key=lambda q: q["id"], reverse=True)
        if object_name == "cream":
            rows = [q for q in rows if q["featured"]]
        return rows

    def list_page(self, page: int, object_name: str) -> str | None:
        rows = self.listed_questions(object_name)
        pages = max(1, -(-len(rows) // LIST_PAGE_SIZE))
        if page < 1 or page > pages:
            return None
        items = []
        if self.broken_pages and page == 1 and object_name != "cream":
            items += [self._list_row_raw(qid, "坏掉的页面", 0, "刚刚") for qid in BROKEN_IDS]
        for q in rows[(page - 1) * LIST_PAGE_SIZE : page * LIST_PAGE_SIZE]:
            items.append(self._list_row_raw(q["id"], q["title"], len(q["answers"]), q["asked_at"], q["body"]))
        nav = []
        base = f"/qa?type=question&object_name={object_name}&title=&level2_tag=0&sort=id&from=houye-dh"
        for n in range(1, pages + 1):
            nav.append(
                f'<span class="active">{n}</span>' if n == page else f'<a href="{base}&page={n}">{n}</a>'
            )
        if page < pages:
            nav.append(f'<a href="{base}&page={page + 1}">»</a>')
        return _page(
            "心理问答 - 壹心理",
            f'<div id="qa-list"><ul class="{self.cl("content")}">{"".join(items)}</ul>'
            f'<div class="pages">{" ".join(nav)}</div></div>',
        )

    def _list_row_raw(self, qid: str, title: str, answers: int, asked_at: str, body: str = "") -> str:
        summary = escape(body.replace("\n", "")[:60])
        return (
            f'<li><p class="{self.cl("title")}"><span><a href="/qa/{qid}?from=shouye" target="_blank">'
            f"{escape(title)}</a></span></p><p>{summary}</p>"
            f'<p class="{self.cl("label")}"><span>回答 {answers} · 有用 0 {asked_at}</span></p></li>'
        )

    def question_page(self, qid: str, page: int) -> str | None:
        if self.broken_pages and qid in BROKEN_IDS:
            return BROKEN_IDS[qid]
        q = self.by_id.get(qid)
        answers = q["answers"] if q else []
        pages = max(1, -(-len(answers) // ANSWER_PAGE_SIZE))
        if q is None or page < 1 or page > pages:
            return None
        c = self.c
        asker = (
            '<a href="javascript:void(0);">匿名</a>'
            if q["asker"] is None
            else f'<a href="/user/{q["asker"]["id"]}">{escape(q["asker"]["name"])}</a>'
        )
        views = (
            ""
            if q["view_count"] is None
            else f'<span class="{c("absoulte-img")}"><img src="/static/eye.png" alt=""><a>{q["view_count"]}</a></span>'
        )
        tags = "".join(f"<li><a>{escape(t)}</a></li>" for t in q["tags"])
        shown = answers[(page - 1) * ANSWER_PAGE_SIZE : page * ANSWER_PAGE_SIZE]
        nav = ""
        if pages > 1:
            links = [
                f'<span class="active">{n}</span>' if n == page else f'<a href="/qa/{qid}?page={n}">{n}</a>'
                for n in range(1, pages + 1)
            ]
            if page < pages:
                links.append(f'<a href="/qa/{qid}?page={page + 1}">»</a>')
            nav = f'<div class="pages">{" ".join(links)}</div>'
        body = (
            f'<div id="left"><div class="{c("title")}"><h1>{escape(q["title"])}</h1>{asker}'
            f"<strong>{len(answers)}个回答</strong>"
            f'<p class="{c("read-capacity")}"><span>{q["asked_at"]}</span>{views}</p></div>'
            f'<div class="content">{self._paragraphs(q["body"], q["body_format"], "p", c("text"))}</div>'
            f'<ul class="{c("label")} detail-tag">{tags}</ul>'
            f'<div class="collect" data-question-id="{qid}"><a>收藏</a></div>'
            f'<div id="answer-text" data-question-id="{qid}"><h3>全部回答</h3>'
            f'<ul class="{c("content-ans")}">{"".join(self._answer(a, i) for i, a in enumerate(shown))}</ul>'
            f"{nav}</div></div>"
        )
        return _page(f"{escape(q['title'])} - 壹心理", body)

    def _paragraphs(self, text: str, body_format: str, tag: str, cls: str) -> str:
        lines = text.split("\n")
        if body_format == "br":
            return f'<{tag} class="{cls}">' + "<br>\n".join(escape(x) for x in lines) + f"</{tag}>"
        return "".join(f'<{tag} class="{cls}">{escape(x)}</{tag}>' for x in lines)

    def _answer(self, a: dict[str, Any], index: int) -> str:
        c = self.c
        signal = a["counselor_signal"]
        kind = "expert" if signal == "expert" else "user"
        badge = {
            "honor": '<span class="honor-icon" title="荣誉咨询师"></span>',
            "help": f'<span class="help">累计帮助 {a["helped"]} 人</span>',
        }.get(signal or "", "")
        # Every second answer carries its id only in the share link, as some pages do.
        zan_id = "" if index % 2 else f' data-answer-id="{a["id"]}"'
        paragraphs = "".join(f"<p>{escape(x)}</p>" for x in a["body"].split("\n"))
        if index % 3 == 2:  # some answers use <br> instead of paragraphs
            paragraphs = "<br><br>".join(escape(x) for x in a["body"].split("\n"))
        return (
            f'<li><p class="user"><a href="/{kind}/{a["author"]["id"]}"><img src="/static/avatar.png" alt=""></a>'
            f'<span class="{c("username")}">{escape(a["author"]["name"])}</span>{badge}</p>'
            f'<div class="{c("text")}">{paragraphs}</div>'
            f'<p class="{c("created_time")}">{a["answered_at"]}</p>'
            f'<div class="operate"><span class="{c("answer_zan")}"{zan_id}><a href="javascript:;">有用'
            f"<font>{a['likes']}</font></a></span>"
            f'<span class="{c("comment_item")}"><a href="javascript:;">评论<font>{a["comments"]}</font></a></span>'
            f'<a class="jumpA" href="https://m.xinli001.com/qa/answer-{a["id"]}">分享</a></div></li>'
        )

    # ------------------------------------------------------------------ douban
    def douban_list(self, gid: str, start: int) -> str | None:
        if gid != self.group["id"] or start < 0 or (start and start >= len(self.topics)):
            return None
        c = self.cl
        rows = ['<tr class="th"><td>讨论</td><td>作者</td><td>回应</td><td>最后回应</td></tr>']
        for t in self.topics[start : start + DOUBAN_LIST_PAGE_SIZE]:
            rows.append(
                f'<tr class=""><td class="title"><a href="/group/topic/{t["id"]}/" title="{escape(t["title"])}">'
                f'{escape(t["title"])}</a></td><td nowrap="nowrap"><a href="/people/{t["author"]["id"]}/">'
                f'{escape(t["author"]["name"])}</a></td><td nowrap="nowrap" class="r-count">{len(t["replies"]) or ""}</td>'
                f'<td nowrap="nowrap" class="time">{t["created_at"][5:16]}</td></tr>'
            )
        nav = ""
        if start + DOUBAN_LIST_PAGE_SIZE < len(self.topics):
            nav = (
                f'<div class="paginator"><span class="next"><link rel="next" href="/group/{gid}/discussion?start='
                f'{start + DOUBAN_LIST_PAGE_SIZE}"/><a href="/group/{gid}/discussion?start={start + DOUBAN_LIST_PAGE_SIZE}">'
                "后页&gt;</a></span></div>"
            )
        return _page(
            f"{escape(self.group['name'])} - 豆瓣",
            f'<div id="content"><h1>{escape(self.group["name"])}</h1><table class="{c("olt")}">{"".join(rows)}</table>{nav}</div>',
        )

    def douban_topic(self, tid: str, start: int) -> str | None:
        t = self.topics_by_id.get(tid)
        if t is None or start < 0 or (start and start >= len(t["replies"])):
            return None
        c = self.c
        replies = []
        for r in t["replies"][start : start + DOUBAN_REPLY_PAGE_SIZE]:
            replies.append(
                f'<li class="clearfix comment-item reply-item" id="{r["id"]}" data-cid="{r["id"]}">'
                f'<div class="user-face"><a href="/people/{r["author"]["id"]}/"><img src="/static/u.jpg" alt=""></a></div>'
                f'<div class="reply-doc content"><div class="bg-img-green"><h4><a href="/people/{r["author"]["id"]}/">'
                f'{escape(r["author"]["name"])}</a><span class="{c("pubtime")}">{r["replied_at"]}</span></h4></div>'
                f'<p class="{c("reply-content")}">{escape(r["body"])}</p>'
                f'<div class="operation_div"><a class="comment-vote lnk-fav" href="#">赞 ({r["likes"]})</a></div></div></li>'
            )
        nav = ""
        if start + DOUBAN_REPLY_PAGE_SIZE < len(t["replies"]):
            nav = (
                f'<div class="paginator"><span class="next"><a href="/group/topic/{tid}/?start='
                f'{start + DOUBAN_REPLY_PAGE_SIZE}">后页&gt;</a></span></div>'
            )
        body = (
            f'<div id="content"><div class="article"><h1>{escape(t["title"])}</h1>'
            f'<div class="topic-doc"><h3><span class="from">来自: <a href="/people/{t["author"]["id"]}/">'
            f'{escape(t["author"]["name"])}</a></span><span class="color-green">{t["created_at"]}</span></h3>'
            f'<div id="link-report"><div class="{c("topic-content")}">'
            f"{''.join(f'<p>{escape(x)}</p>' for x in t['body'].split(chr(10)))}</div></div></div>"
            f'<ul id="comments" class="topic-reply">{"".join(replies)}</ul>{nav}</div></div>'
        )
        return _page(f"{escape(t['title'])}", body)


# Pages served only with --broken-pages: an empty 200 answer and a truncated, title-less page.
BROKEN_IDS = {
    "109999998": "",
    "109999999": '<html><body><div id="left"><div class="title"><strong>3个回答</strong><p class="read-capacity">'
    '<span>2024-01-01</span></p></div><div class="content"><p class="text">这一页在传输中被截',
}

ROBOTS_TXT = """User-agent: *
Disallow: /qa/101000030
Disallow: /user/
Disallow: /admin/
"""

CHALLENGE_PAGE = """<html><script>
var arg1='8E1B5A7C0D3F92A4B6C8E0F1A3B5C7D9E1F3A5B7';
var _0x4818=['\\x63\\x6f\\x6f\\x6b\\x69\\x65','\\x61\\x63\\x77\\x5f\\x73\\x63\\x5f\\x5f\\x76\\x32'];
function setCookie(name,value){var expiredate=new Date();expiredate.setTime(expiredate.getTime()+(3600*1000));
document.cookie=name+'='+value+';expires='+expiredate.toGMTString()+';max-age=3600;path=/';}
function reload(x){setCookie('acw_sc__v2',x);document.location.reload();}
</script></html>"""

ERROR_503_PAGE = (
    "<!DOCTYPE html><html><head><meta charset='utf-8'><title>503</title></head>"
    "<body><h1>访问被拦截</h1><p>您的访问过于频繁，请稍后再试。</p></body></html>"
)


def _page(title: str, body: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body>{body}</body></html>"
    )
