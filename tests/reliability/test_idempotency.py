"""Idempotent delivery: every event and every click delivered 3 times (X-Slack-Retry-Num 1 and 2 on the
repeats) stores each answer once and posts each reply once.

The bot runs in-process (`bot.slack.server.start`, real HTTP through waitress and bolt) against the fake
Slack Web API; each consultation has its own channel.
"""

from __future__ import annotations

import json
import random
import threading
import time

import pytest

from tests.reliability.helpers import (
    TEAM,
    Fake,
    duplicate_groups,
    inprocess_bot,
    plan_consultations,
    posts,
    query,
    send_answer,
    send_click,
    send_submission,
    start_consultation,
    wait_drained,
    wait_until,
)
from tests.slack.helpers import dialog_state

SEED = 7


def buttons(call) -> dict[str, dict]:
    """The buttons of a posted message: action_id -> the action as Slack would send it back."""
    out = {}
    for block in call.param("blocks") or []:
        if block.get("type") == "actions":
            for el in block["elements"]:
                out[el["action_id"]] = {"action_id": el["action_id"], "block_id": block["block_id"],
                                        "value": el.get("value", ""), "type": "button"}
    return out


def deliver3(send, concurrent: bool = False) -> list[int]:
    """Deliver the same request three times: `send(retry)` for retry 0, 1, 2 (in order or at once)."""
    if not concurrent:
        return [send(r) for r in range(3)]
    statuses = [0, 0, 0]
    barrier = threading.Barrier(3)

    def one(r: int) -> None:
        barrier.wait()
        statuses[r] = send(r)

    threads = [threading.Thread(target=one, args=(r,)) for r in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return statuses


@pytest.fixture
def bot(tmp_path):
    with Fake() as fake, inprocess_bot(fake, tmp_path / "idem.db") as running:
        running.fake = fake
        yield running


def test_thread_answers_delivered_three_times_are_stored_once_and_answered_once(bot):
    fake, db = bot.fake, bot.db
    plans = sorted(plan_consultations(random.Random(SEED), 60, commands=1.0), key=lambda p: len(p.steps))[:10]
    threads = {}
    events = 0
    for i, plan in enumerate(plans):
        channel = f"C{i:03d}IDEM"
        cid, thread = start_consultation(bot.url, fake, db, channel, f"U{i}IDEM")
        threads[channel] = (cid, thread, plan)
    # Interleave the consultations; half of them get their three copies at the same moment.
    for k in range(max(len(p.steps) for p in plans)):  # answers, a `status`, then `decide`
        for i, (channel, (_cid, thread, plan)) in enumerate(threads.items()):
            if k >= len(plan.steps):
                continue
            step, event_id, ts = plan.steps[k], f"Ev{i:02d}I{k:02d}", f"{time.time():.6f}"
            statuses = deliver3(lambda r, s=step, e=event_id, t=ts, ch=channel, th=thread, n=i:
                                send_answer(bot.url, ch, th, f"U{n}IDEM", s.text, e, ts=t, retry=r),
                                concurrent=i % 2 == 1 and step.kind != "decide")  # see the decide tests below
            assert statuses == [200, 200, 200]
            events += 1
    wait_drained(db)
    time.sleep(0.3)

    expected_answers = sum(p.answers for p in plans)
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT event_id) FROM answers") == [(expected_answers,
                                                                                     expected_answers)]
    for channel, (_cid, thread, plan) in threads.items():
        replies = posts(fake, channel, thread)
        assert len(replies) == 1 + len(plan.steps), (channel, [c.params.get("text")[:60] for c in replies])
        assert any(c.param("blocks")[0]["type"] == "header" for c in replies)  # the recommendation
        assert "Decision" in replies[-1].params["text"]
    assert query(db, "SELECT COUNT(*), COUNT(DISTINCT consultation_id) FROM decisions") == [(10, 10)]
    assert duplicate_groups(fake) == {}
    updates = fake.calls_to("chat.update")
    roots = {thread for _cid, thread, _plan in threads.values()}
    # each question marked answered once, and each thread's first message once: "Decided: ..."
    assert len([c for c in updates if c.params["ts"] not in roots]) == expected_answers
    assert sorted(c.params["ts"] for c in updates if c.params["ts"] in roots) == sorted(roots)
    print(f"\nidempotency: {events} thread events delivered 3 times each ({2 * events} re-deliveries), "
          f"{expected_answers} answers stored once, 0 duplicate replies")


def test_clicks_delivered_three_times_are_applied_once(bot):
    fake, db = bot.fake, bot.db
    channel, user = "C0CLICKS", "U0CLICKER"
    cid, thread = start_consultation(bot.url, fake, db, channel, user)
    clicks = 0
    for _ in range(4):
        last = posts(fake, channel, thread)[-1]
        options = buttons(last)
        if "fa_answer_0" not in options:
            break
        action = {**options["fa_answer_0"], "action_ts": f"{time.time():.6f}"}
        n = len(posts(fake, channel, thread))
        statuses = deliver3(lambda r, a=action, ts=last.response["ts"]:
                            send_click(bot.url, a, channel=channel, user=user, message_ts=ts, retry=r))
        assert statuses == [200, 200, 200]
        clicks += 1
        wait_until(lambda n=n: len(posts(fake, channel, thread)) > n, 10, "the next question")
    # "Why?" and "What would change it?" (answered with an ephemeral message); the value is the consultation.
    last = posts(fake, channel, thread)[-1]
    for aid in ("fa_how", "fa_changes"):
        action = {"action_id": aid, "block_id": "fa_decide", "value": json.dumps({"c": cid}), "type": "button",
                  "action_ts": f"{time.time():.6f}"}
        assert deliver3(lambda r, a=action: send_click(bot.url, a, channel=channel, user=user,
                                                       message_ts=last.response["ts"], retry=r)) == [200] * 3
        clicks += 1
    time.sleep(0.5)
    wait_drained(db)
    time.sleep(0.3)

    answers = query(db, "SELECT COUNT(*), COUNT(DISTINCT question) FROM answers WHERE consultation_id = ?", [cid])
    assert answers == [(clicks - 2, clicks - 2)]
    assert len(posts(fake, channel, thread)) == 1 + clicks - 2
    assert len(fake.calls_to("chat.postEphemeral")) == 2
    assert len(fake.calls_to("chat.update")) == clicks - 2
    assert duplicate_groups(fake) == {}
    print(f"\nidempotency: {clicks} clicks delivered 3 times each, each applied once")


def _answered_consultation(bot, channel: str, user: str) -> tuple[int, str]:
    """A consultation whose questions are all answered (typed in-process: the replies do not matter here)."""
    cid, thread = start_consultation(bot.url, bot.fake, bot.db, channel, user)
    service = bot.built.ctx.service
    for step in plan_consultations(random.Random(SEED), 1)[0].steps[:-1]:
        service.handle_text(TEAM, cid, user, step.text)
    assert service.state(TEAM, cid).done
    return cid, thread


def test_typed_decide_delivered_three_times_records_one_decision(bot):
    channel, user = "C0DECIDE", "U0DECIDER"
    cid, thread = _answered_consultation(bot, channel, user)
    ts = f"{time.time():.6f}"
    assert deliver3(lambda r: send_answer(bot.url, channel, thread, user, "decide flask because we run it",
                                          "EvDecideOnce", ts=ts, retry=r)) == [200] * 3
    wait_drained(bot.db)
    assert query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid]) == [(1,)]


def test_decide_click_delivered_three_times_records_one_decision(bot):
    channel, user = "C0ADOPT", "U0ADOPTER"
    cid, thread = _answered_consultation(bot, channel, user)
    first_question = posts(bot.fake, channel, thread)[-1]  # the Adopt buttons sit on the recommendation message
    action = {"action_id": "fa_decide_django", "block_id": "fa_decide", "type": "button",
              "value": json.dumps({"c": cid, "f": "django"}), "action_ts": f"{time.time():.6f}"}
    assert deliver3(lambda r: send_click(bot.url, action, channel=channel, user=user,
                                         message_ts=first_question.response["ts"], retry=r)) == [200] * 3
    # The click opens the decision dialog once, however often Slack delivers it.
    wait_until(lambda: bot.fake.calls_to("views.open"), 5, "the decision dialog")
    time.sleep(0.5)
    opened = [c.response["view"] for c in bot.fake.calls_to("views.open") if c.response and c.response.get("ok")]
    assert len(opened) == 1
    values = dialog_state(opened[0], **{"fa_rationale": "we already run Django"})
    assert deliver3(lambda r: send_submission(bot.url, opened[0], values, user=user, retry=r)) == [200] * 3
    wait_until(lambda: query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid])[0][0], 5)
    time.sleep(0.5)
    wait_drained(bot.db)
    assert query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid]) == [(1,)]


def test_redelivered_final_answer_saves_one_recommendation(bot):
    channel, user = "C0RECO", "U0RECO"
    cid, thread = start_consultation(bot.url, bot.fake, bot.db, channel, user)
    steps = plan_consultations(random.Random(SEED), 1)[0].steps[:-1]
    service = bot.built.ctx.service
    for step in steps[:-1]:
        service.handle_text(TEAM, cid, user, step.text)
    ts = f"{time.time():.6f}"
    assert deliver3(lambda r: send_answer(bot.url, channel, thread, user, steps[-1].text, "EvLastAnswer", ts=ts,
                                          retry=r)) == [200] * 3
    assert service.state(TEAM, cid).done
    assert query(bot.db, "SELECT COUNT(*) FROM recommendations WHERE consultation_id = ?", [cid]) == [(1,)]


def test_skip_click_delivered_three_times_skips_once_and_says_nothing_extra(bot):
    fake, db = bot.fake, bot.db
    channel, user = "C0SKIP", "U0SKIPPER"
    cid, thread = start_consultation(bot.url, fake, db, channel, user)
    question = posts(fake, channel, thread)[-1]
    action = {**buttons(question)["fa_skip"], "action_ts": f"{time.time():.6f}"}
    assert deliver3(lambda r: send_click(bot.url, action, channel=channel, user=user,
                                         message_ts=question.response["ts"], retry=r)) == [200] * 3
    wait_until(lambda: len(posts(fake, channel, thread)) >= 2, 5, "the next question")
    time.sleep(0.5)
    wait_drained(db)
    assert query(db, "SELECT kind, question FROM answers WHERE consultation_id = ?", [cid]) == [
        ("skip", json.loads(action["value"])["q"])]
    assert len(posts(fake, channel, thread)) == 2
    ephemeral = [c.params.get("text") for c in fake.calls_to("chat.postEphemeral")]
    assert ephemeral == [], f"re-delivered skip clicks told the user: {ephemeral}"


def test_home_start_click_delivered_three_times_starts_one_consultation(bot):
    action = {"action_id": "fa_home_start", "block_id": "fa_home", "value": json.dumps({"ch": "D0HOMEIM"}),
              "type": "button", "action_ts": f"{time.time():.6f}"}
    assert deliver3(lambda r: send_click(bot.url, action, channel="D0HOMEIM", user="U0HOME", message_ts="",
                                         retry=r)) == [200] * 3
    wait_until(lambda: query(bot.db, "SELECT COUNT(*) FROM consultations")[0][0], 5, "a consultation")
    time.sleep(0.5)
    wait_drained(bot.db)
    assert query(bot.db, "SELECT COUNT(*) FROM consultations WHERE channel = 'D0HOMEIM'") == [(1,)]
    roots = [c for c in posts(bot.fake, "D0HOMEIM") if not c.params.get("thread_ts")]
    assert len(roots) == 1


def test_decide_whose_first_delivery_failed_is_recorded_on_the_retry(bot, monkeypatch):
    """A `decide` whose handling died before it was stored (a crash, an error) must still count when Slack
    re-delivers it: the retry may not be mistaken for a duplicate."""
    channel, user = "C0DECFAIL", "U0DECFAIL"
    cid, thread = _answered_consultation(bot, channel, user)
    service = bot.built.ctx.service
    real, calls = service.decide, []

    def crash_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("simulated crash before the decision was stored")
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "decide", crash_once)
    ts = f"{time.time():.6f}"
    first = send_answer(bot.url, channel, thread, user, "decide flask because it fits", "EvDecideCrash", ts=ts)
    second = send_answer(bot.url, channel, thread, user, "decide flask because it fits", "EvDecideCrash", ts=ts,
                         retry=1)
    assert second == 200
    wait_drained(bot.db)
    assert (first, query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid])) != (200, [(0,)])
    assert query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid]) == [(1,)]
    assert any("Decision 1 recorded" in c.params.get("text", "") for c in posts(bot.fake, channel, thread))


def test_decide_redelivered_after_a_crash_before_its_reply_still_confirms_the_decision(bot, monkeypatch):
    """The decision is committed, then the process dies before the reply is queued; Slack re-delivers."""
    channel, user = "C0DECREPLY", "U0DECREPLY"
    cid, thread = _answered_consultation(bot, channel, user)
    ctx = bot.built.ctx
    real_send, crashed = ctx.send, []

    def crash_before_queueing(team, ch, th, replies, key):
        if key == "ev:EvDecideReply" and not crashed:
            crashed.append(key)
            raise RuntimeError("simulated crash after the decision was committed, before its reply was queued")
        return real_send(team, ch, th, replies, key)

    monkeypatch.setattr(ctx, "send", crash_before_queueing)
    ts = f"{time.time():.6f}"
    send_answer(bot.url, channel, thread, user, "decide node because we like it", "EvDecideReply", ts=ts)
    assert query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid]) == [(1,)]
    assert send_answer(bot.url, channel, thread, user, "decide node because we like it", "EvDecideReply", ts=ts,
                       retry=1) == 200
    wait_drained(bot.db)
    assert "Decision 1 recorded" in posts(bot.fake, channel, thread)[-1].params["text"]


def test_decide_delivered_again_while_the_first_delivery_runs_still_confirms_the_decision(bot, monkeypatch):
    """Slack re-delivers while the first delivery is still working (it took over 3 s): one decision, confirmed."""
    channel, user = "C0DECRACE", "U0DECRACE"
    cid, thread = _answered_consultation(bot, channel, user)
    ctx = bot.built.ctx
    real_send, calls = ctx.send, []

    def first_delivery_is_slow(team, ch, th, replies, key):
        calls.append(key)
        if key == "ev:EvDecideRace" and len([k for k in calls if k == key]) == 1:
            time.sleep(0.8)
        return real_send(team, ch, th, replies, key)

    monkeypatch.setattr(ctx, "send", first_delivery_is_slow)
    ts = f"{time.time():.6f}"
    statuses = []
    first = threading.Thread(target=lambda: statuses.append(send_answer(
        bot.url, channel, thread, user, "decide node because we like it", "EvDecideRace", ts=ts)))
    first.start()
    time.sleep(0.3)
    statuses.append(send_answer(bot.url, channel, thread, user, "decide node because we like it", "EvDecideRace",
                                ts=ts, retry=1))
    first.join()
    assert statuses == [200, 200]
    wait_drained(bot.db)
    assert query(bot.db, "SELECT COUNT(*) FROM decisions WHERE consultation_id = ?", [cid]) == [(1,)]
    assert "Decision 1 recorded" in posts(bot.fake, channel, thread)[-1].params["text"]
