"""Recording a decision in Slack: the decide dialog (views.open on [Adopt X], view_submission), its
validation errors, who may decide, the root message and the channel broadcast, a proposal accepted
by another decision-maker (superseding the decision in force, both linked), the history's status
filter, and `/framework export N` uploading the MADR file into the thread."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

from bot.consultation import add_months
from bot.render import madr
from knowledge import loader
from tests.slack.helpers import (
    ALICE,
    BOB,
    CAROL,
    TEAM,
    Bot,
    Post,
    action_ids,
    block_texts,
    button_for,
    button_value,
    unique,
    wait_until,
)


def _dialog(bot: Bot, ch: str, post: Post, framework: str, cid: int, user: str = ALICE) -> dict:
    """Click [Adopt <framework>] (on any post) and return the dialog the bot opened."""
    before = len(bot.opened_views("fa_decide"))
    assert bot.click(post, f"fa_decide_{framework}", {"c": cid, "f": framework}, channel=ch, user=user) == 200
    return wait_until(lambda: bot.opened_views("fa_decide")[before:], what="the decide dialog")[0]


def _started(bot: Bot, ch: str, topic: str) -> tuple[Post, Post, int]:
    root, first = bot.start(ch, topic)
    return root, first, bot.consultation_id(ch, root.ts)


def _blocks(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def test_an_adopt_click_opens_the_decide_dialog_with_its_fields(bot: Bot) -> None:
    ch = unique("C0DLG")
    root, first, cid = _started(bot, ch, "dialog fields")
    action_id, value = button_for(first.params, "web_app")
    assert bot.click(first, action_id, value, channel=ch, user=BOB) == 200  # Bob takes part
    bot.next_post(ch, 2)
    clicked = time.monotonic()
    view = _dialog(bot, ch, first, "node", cid)
    assert time.monotonic() - clicked < 3  # and the fake refuses a trigger_id older than 3 s

    assert (view["type"], view["callback_id"], view["title"]["text"]) == ("modal", "fa_decide", "Record the decision")
    assert json.loads(view["private_metadata"]) == {"c": cid, "t": TEAM}
    inputs = _blocks(view)
    assert list(inputs) == ["fa_framework", "fa_rationale", "fa_makers", "fa_consulted", "fa_informed", "fa_review",
                            "fa_status", "fa_announce"]
    framework = inputs["fa_framework"]["element"]
    assert framework["type"] == "static_select" and framework["initial_option"]["value"] == "node"
    assert [o["value"] for o in framework["options"]] == ["django", "flask", "node"]
    rationale = inputs["fa_rationale"]
    assert rationale["element"]["type"] == "plain_text_input" and rationale["element"]["multiline"] is True
    assert not rationale.get("optional")  # required
    assert inputs["fa_makers"]["element"] == {"type": "multi_users_select", "action_id": "value",
                                              "initial_users": [ALICE]}
    assert inputs["fa_consulted"]["element"]["initial_users"] == [BOB]  # the other participants
    assert inputs["fa_informed"]["element"]["type"] == "multi_users_select"
    months = getattr(loader.default().settings, "review_months", 6)
    review = add_months(datetime.now(UTC).date(), months).isoformat()
    assert inputs["fa_review"]["element"] == {"type": "datepicker", "action_id": "value", "initial_date": review}
    assert [o["value"] for o in inputs["fa_status"]["element"]["options"]] == ["accepted", "proposed"]
    assert inputs["fa_status"]["element"]["initial_option"]["value"] == "accepted"
    announce = inputs["fa_announce"]["element"]
    assert announce["type"] == "checkboxes" and [o["value"] for o in announce["options"]] == ["yes"]
    assert "also post the outcome to the channel" in announce["options"][0]["text"]["text"].lower()
    # Opening the dialog records nothing.
    assert [d for d in bot.store().decisions(TEAM, limit=100) if d.channel == ch] == []


def test_a_submission_without_a_rationale_comes_back_with_errors(bot: Bot) -> None:
    ch = unique("C0ERR")
    root, first, cid = _started(bot, ch, "no reason")
    view = _dialog(bot, ch, first, "flask", cid)
    status, ack = bot.submit(view, fa_rationale="   \n ", fa_review="2001-01-01")
    assert status == 200
    assert ack["response_action"] == "errors"
    assert set(ack["errors"]) == {"fa_rationale", "fa_review"}
    assert ack["errors"]["fa_rationale"].startswith("Say why")
    assert ack["errors"]["fa_review"] == "Pick a date after today."
    time.sleep(0.5)
    assert [d for d in bot.store().decisions(TEAM, limit=100) if d.channel == ch] == []
    assert len(bot.posts(ch)) == 2 and bot.updates(ch) == []  # no message, no root update
    assert bot.store().get_consultation(TEAM, cid).status == "open"


def test_a_submission_records_the_decision_and_updates_the_root_message(bot: Bot) -> None:
    ch = unique("C0SUB")
    root, first, cid = _started(bot, ch, "billing portal")
    view = _dialog(bot, ch, first, "node", cid)
    status, ack = bot.submit(view, fa_framework="django", fa_rationale="the admin and forms come built in",
                             fa_consulted=[BOB], fa_informed=[CAROL], fa_review="2099-03-31", fa_announce=["yes"])
    assert status == 200 and ack is None  # an empty ack closes the dialog

    d = next(d for d in bot.store().decisions(TEAM, limit=100) if d.channel == ch)
    d = bot.store().decision(TEAM, d.number)
    assert (d.framework, d.status, d.rationale, d.decided_by) == ("django", "accepted",
                                                                  "the admin and forms come built in", ALICE)
    assert (d.decision_makers, d.consulted, d.informed, d.review_on, d.announce) == (
        [ALICE], [BOB], [CAROL], "2099-03-31", True)
    assert d.consultation_id == cid and bot.store().get_consultation(TEAM, cid).status == "decided"

    reply = bot.next_post(ch, 2)
    assert reply.thread_ts == root.ts and reply.params.get("reply_broadcast") is True  # also in the channel
    assert reply.text.startswith(f"Decision {d.number} recorded: *Django*")
    assert f"recorded by <@{ALICE}>" in " ".join(block_texts(reply.blocks))
    assert "review on <!date^" in " ".join(block_texts(reply.blocks))

    update = wait_until(lambda: [u for u in bot.updates(ch) if u.params["ts"] == root.ts], what="the root update")[0]
    assert update.params["text"] == (
        f"Framework consultation started by <@{ALICE}>: billing portal\n*Decided:* Django, decision {d.number}, by "
        f"<@{ALICE}>: the admin and forms come built in · <https://fake-workspace.slack.com/archives/{ch}/"
        f"p{root.ts.replace('.', '')}|thread>")
    assert bot.fake.thread(ch, root.ts)[0]["text"] == update.params["text"]  # Slack shows the new root

    # The same submission again (a double click on Record) records nothing twice and posts nothing twice.
    assert bot.submit(view, fa_framework="django", fa_rationale="the admin and forms come built in") == (200, None)
    time.sleep(1.2)
    assert len([x for x in bot.store().decisions(TEAM, limit=100) if x.channel == ch]) == 1
    assert len(bot.posts(ch)) == 3 and len(bot.updates(ch)) == 1


def test_only_participants_may_open_the_dialog_or_submit_it(bot: Bot) -> None:
    ch = unique("C0NOT")
    root, first, cid = _started(bot, ch, "outsiders")
    views = len(bot.opened_views())
    assert bot.click(first, "fa_decide_flask", {"c": cid, "f": "flask"}, channel=ch, user=CAROL) == 200
    (eph,) = wait_until(lambda: bot.ephemerals(ch), what="an ephemeral refusal")
    assert eph.params["user"] == CAROL and eph.params["thread_ts"] == root.ts
    assert eph.params["text"] == ("Only the person who started this consultation or someone who answered in it can "
                                  "record the decision.")
    time.sleep(0.3)
    assert len(bot.opened_views()) == views  # no dialog for Carol

    # A dialog opened by Alice and submitted by Carol is refused in the dialog itself.
    view = _dialog(bot, ch, first, "flask", cid)
    status, ack = bot.submit(view, user=CAROL, fa_rationale="I like it")
    assert ack["response_action"] == "errors" and ack["errors"]["fa_framework"].startswith("Only the person")
    assert [d for d in bot.store().decisions(TEAM, limit=100) if d.channel == ch] == []


def test_a_proposal_accepted_by_another_decision_maker_supersedes_the_decision_in_force(bot: Bot) -> None:
    ch = unique("C0PROP")
    root1, first1, cid1 = _started(bot, ch, "payments")
    assert bot.submit(_dialog(bot, ch, first1, "django", cid1), fa_rationale="batteries")[0] == 200
    bot.next_post(ch, 2)  # its reply, before the next consultation starts in this channel
    old = bot.store().decisions(TEAM, limit=1)[0]
    assert (old.channel, old.status) == (ch, "accepted")

    root2, first2, cid2 = _started(bot, ch, "payments")  # the same channel and topic, later
    n = len(bot.posts(ch))
    action_id, value = button_for(first2.params, "web_app")
    assert bot.click(first2, action_id, value, channel=ch, user=BOB) == 200
    bot.next_post(ch, n)
    view = _dialog(bot, ch, first2, "flask", cid2)
    n = len(bot.posts(ch))
    assert bot.submit(view, fa_rationale="smaller, and we know it", fa_makers=[ALICE, BOB],
                      fa_status="proposed", fa_announce=["yes"]) == (200, None)
    proposal_post = bot.next_post(ch, n)
    new = bot.store().decisions(TEAM, limit=1)[0]
    assert (new.status, new.supersedes) == ("proposed", None)
    assert bot.store().decision(TEAM, old.number).status == "accepted"  # nothing superseded yet
    assert proposal_post.text.startswith(f"Decision {new.number} proposed: *Flask*")
    assert proposal_post.params.get("reply_broadcast") is None  # a proposal is not the outcome yet
    assert action_ids(proposal_post.blocks) == ["fa_accept", "fa_reject"]
    root_update = wait_until(lambda: [u for u in bot.updates(ch) if u.params["ts"] == root2.ts], what="root")[-1]
    assert f"*Proposed:* Flask, decision {new.number}, by <@{ALICE}>" in root_update.params["text"]

    # The proposer cannot accept it herself.
    assert bot.click(proposal_post, "fa_accept", channel=ch, user=ALICE) == 200
    eph = wait_until(lambda: [e for e in bot.ephemerals(ch) if e.params["user"] == ALICE], what="refusal")[0]
    assert "You proposed it, so another decision-maker accepts or rejects it." in eph.params["text"]
    assert bot.store().decision(TEAM, new.number).status == "proposed"

    # Bob, a decision-maker named on it, accepts it.
    n = len(bot.posts(ch))
    assert button_value(proposal_post.params, "fa_accept") == {"c": cid2, "d": new.number}
    assert bot.click(proposal_post, "fa_accept", channel=ch, user=BOB) == 200
    accepted = bot.next_post(ch, n)
    assert accepted.text == (f"Decision {new.number} accepted: *Flask*. Rationale: smaller, and we know it. "
                             f"It supersedes decision {old.number}.")
    assert accepted.params.get("reply_broadcast") is True  # the outcome, as the proposer asked
    now_new, now_old = bot.store().decision(TEAM, new.number), bot.store().decision(TEAM, old.number)
    assert (now_new.status, now_new.supersedes, now_new.accepted_by) == ("accepted", old.number, BOB)
    assert (now_old.status, now_old.superseded_by) == ("superseded", new.number)

    # The proposal's message loses its buttons; the root says who decided.
    edit = wait_until(lambda: [u for u in bot.updates(ch) if u.params["ts"] == proposal_post.ts], what="edit")[0]
    assert action_ids(edit.params.get("blocks")) == []
    assert f"accepted by <@{BOB}>" in " ".join(block_texts(edit.params["blocks"]))
    root_update = wait_until(lambda: [u for u in bot.updates(ch) if u.params["ts"] == root2.ts
                                      and "*Decided:*" in u.params["text"]], what="the decided root")[-1]
    assert (f"*Decided:* Flask, decision {new.number}, proposed by <@{ALICE}>, accepted by <@{BOB}>: smaller, and "
            "we know it") in root_update.params["text"]

    # The history filters by status and shows the links both ways.
    _, ack = bot.command("history superseded", channel=ch)
    lines = [x for x in ack["text"].split("\n") if x.startswith("*")]
    assert lines[0].startswith("*Decisions* superseded")
    assert any(x.startswith(f"*{old.number}.* *Django* (superseded)") and x.endswith(f"superseded by {new.number}")
               for x in lines)
    assert not any(x.startswith(f"*{new.number}.*") for x in lines)
    _, ack = bot.command("history accepted", channel=ch)
    assert any(x.startswith(f"*{new.number}.* *Flask* (accepted)") and x.endswith(f"supersedes {old.number}")
               for x in ack["text"].split("\n"))
    _, ack = bot.command("history frobnicated", channel=ch)
    assert ack["text"].startswith("Usage: `/framework history [status] [page]`")
    _, ack = bot.command(f"show {old.number}", channel=ch)
    assert f"superseded by decision {new.number}" in ack["text"]


def test_export_uploads_the_madr_file_into_the_thread(bot: Bot) -> None:
    ch = unique("C0EXP")
    root, first, cid = _started(bot, ch, "exported records")
    assert bot.submit(_dialog(bot, ch, first, "flask", cid), fa_rationale="small and quick",
                      fa_informed=[CAROL])[0] == 200
    d = bot.store().decisions(TEAM, limit=1)[0]
    assert d.channel == ch
    before = len(bot.fake.calls_to("files.completeUploadExternal"))
    status, ack = bot.command(f"export {d.number}", channel=unique("C0ELSE"), user=BOB)
    name = f"{d.number:04d}-use-flask-for-exported-records.md"
    assert status == 200 and ack["text"].startswith(f"Uploading decision {d.number}'s record, `{name}`")

    done = wait_until(lambda: bot.fake.calls_to("files.completeUploadExternal")[before:], what="the upload")[0]
    assert done.response["ok"] is True
    assert (done.params["channel_id"], done.params["thread_ts"]) == (ch, root.ts)
    assert f"exported by <@{BOB}>" in done.params["initial_comment"]
    (file,) = done.param("files")
    url_call = next(c for c in bot.fake.calls_to("files.getUploadURLExternal")
                    if c.response.get("file_id") == file["id"])
    assert url_call.params["filename"] == name
    assert file["title"] == "Use Flask for exported records"
    content = bot.fake.uploads[file["id"]].decode("utf-8")
    assert int(url_call.params["length"]) == len(bot.fake.uploads[file["id"]])
    assert content == madr.render(bot.store().decision(TEAM, d.number), loader.default())
    assert content.startswith("---\nstatus: accepted\n") and f"informed: {CAROL}\n" in content
    assert "### Confirmation" in content


def test_a_plain_words_decision_without_a_reason_gets_a_button_to_the_dialog(bot: Bot) -> None:
    ch = unique("C0PEND")
    root, first, cid = _started(bot, ch, "plain words")
    n = len(bot.posts(ch))
    assert bot.say(ch, root.ts, "let's go with django") == 200
    pending = bot.next_post(ch, n)
    assert pending.thread_ts == root.ts
    assert pending.text.startswith("Record *Django* as the team's decision?")
    assert action_ids(pending.blocks) == ["fa_decide_django"]
    assert [d for d in bot.store().decisions(TEAM, limit=100) if d.channel == ch] == []
    view = _dialog(bot, ch, pending, "django", cid)
    assert _blocks(view)["fa_framework"]["element"]["initial_option"]["value"] == "django"
