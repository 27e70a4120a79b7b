"""Person names in free text are scrubbed; figures of speech, public figures and therapies stay."""

from __future__ import annotations

import pytest

from curation.names import scrub_names


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("我男朋友小王最近总是不回我消息", "我男朋友<NAME>最近总是不回我消息"),
        ("我和张伟谈了三年恋爱，他妈妈李秀英一直反对。", "我和<NAME>谈了三年恋爱，他妈妈<NAME>一直反对。"),
        ("表姐周婷婷结婚了，全家都在催我。", "表姐<NAME>结婚了，全家都在催我。"),
        ("我室友杨梓萱每天晚上打电话到两点。", "我室友<NAME>每天晚上打电话到两点。"),
        ("我女朋友晓雯上周提了分手。", "我女朋友<NAME>上周提了分手。"),
    ],
)
def test_names_of_people_in_posts_are_scrubbed(text, expected):
    assert scrub_names(text)[0] == expected


@pytest.mark.parametrize(
    "text",
    [
        "弗洛伊德说过，梦是愿望的满足。",
        "咨询师建议我试试森田疗法，顺其自然，为所当为。",
        "我现在活得像祥林嫂一样，逢人就说自己的不幸。",
        "萨提亚模式和认知行为疗法哪个更适合我？",
        "谢谢你愿意听我说这些，安全感太低了。",
        "李老师建议我多运动，每天跑步半小时。",
        "华为的工作压力太大了，事后诸葛亮有什么用。",
        "看了武志红的书，才知道原来是原生家庭的问题。",
    ],
)
def test_figures_of_speech_public_figures_and_therapies_stay(text):
    assert scrub_names(text) == (text, 0)
