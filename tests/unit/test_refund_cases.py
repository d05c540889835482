"""Every refund case (refund-math §10), one test per case id.

Always: the repo's own case files, `tests/data/refund_cases*.json` (the public sample and our
own cases). Extra cases, only when present: every
`refund_cases*.json` in `<repo>/../shared/research/` and any file named by the
`RETURNBRIDGE_REFUND_CASES` environment variable (os.pathsep-separated).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from returnbridge.domain.money import Rounding
from returnbridge.domain.orders import Order
from returnbridge.domain.refunds import RefundError, RefundPolicy, RefundRequest, plan_refund

REPO_ROOT = Path(__file__).resolve().parents[2]
OWN_CASES = sorted((REPO_ROOT / "tests" / "data").glob("refund_cases*.json"))
SHARED_RESEARCH = REPO_ROOT.parent / "shared" / "research"


def _named_files() -> list[Path]:
    named = os.environ.get("RETURNBRIDGE_REFUND_CASES", "")
    return [Path(p) for p in named.split(os.pathsep) if p.strip()]


def _case_files() -> list[Path]:
    """The repo's case files first, then the extras that exist."""
    shared = sorted(SHARED_RESEARCH.glob("refund_cases*.json")) if SHARED_RESEARCH.is_dir() else []
    extras = [p for p in [*shared, *_named_files()] if p.is_file()]
    return [*OWN_CASES, *extras]


def _cases_in(path: Path) -> list[dict[str, Any]]:
    return list(json.loads(path.read_text(encoding="utf-8"))["cases"])


def _cases() -> list[Any]:
    """One param per distinct case: an extra file's copy of a loaded case runs once."""
    params: list[Any] = []
    seen: list[dict[str, Any]] = []
    for path in _case_files():
        for case in _cases_in(path):
            if case not in seen:
                seen.append(case)
                params.append(pytest.param(case, id=f"{path.stem}:{case['id']}"))
    return params


CASES = _cases()


def test_repo_case_files_have_cases() -> None:
    names = [path.name for path in OWN_CASES]
    assert {"refund_cases.json", "refund_cases_own.json"} <= set(names), names
    ids = []
    for path in OWN_CASES:
        cases = _cases_in(path)
        assert cases, f"no refund cases in {path}"
        ids += [case["id"] for case in cases]
    assert len(ids) == len(set(ids)), "case ids repeat"


def test_files_named_by_the_environment_exist() -> None:
    """A file named in RETURNBRIDGE_REFUND_CASES is asked for, so a typo must not pass quietly."""
    missing = [str(p) for p in _named_files() if not p.is_file()]
    assert not missing, f"RETURNBRIDGE_REFUND_CASES names missing files: {missing}"


def _match(expected: Any, actual: Any, path: str) -> list[str]:
    """Differences: every key of `expected` must equal `actual`'s, recursively."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        problems: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{path}.{key}: missing (expected {value!r})")
            else:
                problems += _match(value, actual[key], f"{path}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        problems = []
        for index, (want, got) in enumerate(zip(expected, actual, strict=True)):
            problems += _match(want, got, f"{path}[{index}]")
        return problems
    if expected != actual or isinstance(expected, bool) != isinstance(actual, bool):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _policy(case: dict[str, Any]) -> RefundPolicy:
    return RefundPolicy(
        rounding=Rounding(case.get("rounding", {}).get("mode", "HALF_UP")),
        on_cap_exceeded=case.get("policy", {}).get("on_cap_exceeded", "reject"),
    )


def _other_mode(case: dict[str, Any]) -> str:
    return {"HALF_UP": "HALF_EVEN", "HALF_EVEN": "HALF_UP"}[case["rounding"]["mode"]]


@pytest.mark.parametrize("case", CASES)
def test_refund_case(case: dict[str, Any]) -> None:
    order = Order.model_validate(case["order"])
    request = RefundRequest.model_validate(case["request"])
    expected = case["expected"]
    if expected["status"] == "error":
        with pytest.raises(RefundError) as caught:
            plan_refund(order, request, policy=_policy(case))
        assert caught.value.code == expected["error"], caught.value.message
        if "field" in expected:
            assert caught.value.field == expected["field"], caught.value.message
        return
    breakdown = plan_refund(order, request, policy=_policy(case)).to_breakdown()
    problems = _match(expected, breakdown, "expected")
    assert not problems, "\n".join(problems)
    rounding = case.get("rounding", {})
    other = f"total_under_{_other_mode(case)}" if "mode" in rounding else ""
    if rounding.get("mode_sensitive") and other in rounding:
        # §10: the total the other rounding mode must give
        flipped = _policy({**case, "rounding": {"mode": _other_mode(case)}})
        assert plan_refund(order, request, policy=flipped).total == rounding[other]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.values[0].get("rounding", {}).get("mode_sensitive") is False]
)
def test_mode_insensitive_case_agrees_under_the_other_rounding_mode(case: Any) -> None:
    """§10 `mode_sensitive: false`: the other rounding mode gives the same outcome."""
    other = _other_mode(case)
    flipped = {**case, "rounding": {**case["rounding"], "mode": other}}
    test_refund_case(flipped)
