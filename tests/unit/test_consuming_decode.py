"""Decoding a list the caller gives up: emptied as read, whole again on a misfit."""

from __future__ import annotations

import copy
from typing import Any, Dict, List

import pytest

from together_finetune.converter import decode, encode
from together_finetune.errors import APIResponseValidationError
from together_finetune.models import FineTune, FineTuneEvent


def job(index: int) -> Dict[str, Any]:
    return {
        "id": f"ft-{index}",
        "status": "completed",
        "created_at": "2026-12-04T21:59:22.973Z",
        "n_epochs": 1,
        "training_type": {"type": "Lora", "lora_r": 8, "lora_alpha": 16},
        "training_method": {"method": "sft", "train_on_inputs": "auto"},
        "lr_scheduler": {"lr_scheduler_type": "cosine", "lr_scheduler_args": {"num_cycles": 0.5}},
        "events": [],
        "new_key": index,
    }


def test_the_same_objects_and_the_list_emptied() -> None:
    data = [job(i) for i in range(5)]
    expected = decode(copy.deepcopy(data), List[FineTune])
    assert decode(data, List[FineTune], consume=True) == expected
    assert data == [None] * 5
    assert expected[4].extra == {"new_key": 4}


def test_a_list_not_given_up_is_left_as_it_is() -> None:
    data = [job(i) for i in range(3)]
    decode(data, List[FineTune])
    assert data == [job(i) for i in range(3)]


@pytest.mark.parametrize("consume", [False, True])
def test_a_misfit_names_every_bad_item_and_keeps_the_body(consume: bool) -> None:
    data = [job(i) for i in range(6)]
    data[3]["n_epochs"] = "one"
    data[5]["status"] = 7
    with pytest.raises(APIResponseValidationError) as info:
        decode(data, List[FineTune], consume=consume)
    message = str(info.value)
    assert "$[3].n_epochs" in message
    assert "$[5].status" in message
    assert "$[0]" not in message
    assert "$[4]" not in message
    body = info.value.body
    assert body is data
    assert len(body) == 6
    assert body[3:] == [data[3], data[4], data[5]]
    assert body[3]["n_epochs"] == "one"
    for index in range(3):  # the items before the misfit: what they decoded to
        assert decode(body[index], FineTune) == decode(job(index), FineTune)
    if consume:
        assert body[0] == encode(decode(job(0), FineTune))


def test_the_misfit_message_is_the_one_of_the_plain_decode() -> None:
    data = [{"id": "e1", "message": "ok"}, {"message": 3}, {"id": "e3"}]
    messages = []
    for consume in (False, True):
        with pytest.raises(APIResponseValidationError) as info:
            decode(copy.deepcopy(data), List[FineTuneEvent], consume=consume)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
