"""The class-subset policy: parsing, canonical text, the setting in effect (set, block, environment) and which
studies honour or refuse a subset."""

import pytest

from mnist1d_jax.data import classes as C


@pytest.fixture(autouse=True)
def no_setting(monkeypatch):
    """Every test starts without a setting and leaves none behind."""
    monkeypatch.delenv(C.ENV_VAR, raising=False)
    monkeypatch.setattr(C, "_setting", None)


@pytest.mark.parametrize("text, digits", [
    ("0-7", (0, 1, 2, 3, 4, 5, 6, 7)), ("0,2,4", (0, 2, 4)), ("0-3,8", (0, 1, 2, 3, 8)), (" 8 , 0 - 1 ", (0, 1, 8)),
    ("9", (9,)), ("0-9", C.ALL_CLASSES), ("all", C.ALL_CLASSES), ("5-5", (5,)),
])
def test_parse_classes(text, digits):
    assert C.parse_classes(text) == digits
    assert C.parse_classes(C.classes_text(digits)) == digits  # the canonical text reads back


@pytest.mark.parametrize("text, fragment", [
    ("", "names no digit"), ("   ", "names no digit"), ("0-10", "digit 10 is out of range"),
    ("10", "digit 10 is out of range"), ("7-0", "the range 7-0 is reversed"), ("0-3,2", "digit 2 is given twice"),
    ("1,1", "digit 1 is given twice"), ("a", "'a' is not a digit"), ("0,,1", "'' is not a digit"),
    ("-1", "'-1' is not a digit"), ("0-", "'0-' is not a digit"),
])
def test_bad_text_is_a_one_line_value_error(text, fragment):
    with pytest.raises(ValueError, match=fragment) as info:
        C.parse_classes(text)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("digits, fragment", [
    ((), "names no digit"), ([0, 0], "given twice"), ([11], "out of range"), ([-1], "out of range"),
    ([True], "integer digit"), ((1.5,), "integer digit"), (3, "give digits like"),
])
def test_bad_digits_are_refused(digits, fragment):
    with pytest.raises(ValueError, match=fragment):
        C.resolve_classes(digits)


def test_canonical_text_and_complement():
    assert C.classes_text((0, 1, 2, 3, 8)) == "0-3,8" and C.classes_text([4, 0, 2]) == "0,2,4"
    assert C.classes_text(range(10)) == "0-9" and C.classes_text([5]) == "5" and C.classes_text([3, 4]) == "3-4"
    assert C.held_out_classes("0-7") == (8, 9) and C.held_out_classes("all") == ()
    assert C.is_subset("0-7") and not C.is_subset("0-9")


def test_nothing_ambient_and_the_deprecated_policy_still_works_with_a_warning(monkeypatch):
    monkeypatch.setenv(C.ENV_VAR, "0-7")  # read by the command line only
    assert C.resolve_classes() == C.ALL_CLASSES and not C.is_subset()  # None: all ten, whatever the environment
    assert C.resolve_classes("1") == (1,)
    with pytest.warns(DeprecationWarning, match="use_classes"), C.use_classes("0,2") as kept:
        assert kept == (0, 2) and C.resolve_classes() == (0, 2)
        with pytest.warns(DeprecationWarning, match="current_classes"):
            assert C.current_classes() == (0, 2)
    assert C.resolve_classes() == C.ALL_CLASSES  # undone on exit
    with pytest.raises(RuntimeError), pytest.warns(DeprecationWarning), C.use_classes("3"):  # also on an error
        raise RuntimeError
    assert C.resolve_classes() == C.ALL_CLASSES
    with pytest.warns(DeprecationWarning, match="set_classes"):
        assert C.set_classes("5-9") == (5, 6, 7, 8, 9)
    try:
        assert C.resolve_classes() == (5, 6, 7, 8, 9)
    finally:
        with pytest.warns(DeprecationWarning):
            C.set_classes(None)
    assert C.resolve_classes() == C.ALL_CLASSES


def test_refusal_is_one_line_and_only_under_a_subset():
    C.refuse_class_subset("some_study", "a reason")  # all ten: nothing happens
    with pytest.raises(C.ClassSubsetError, match=r"^some_study cannot run on a class subset \(--classes 0-7\): a "
                       r"reason$"):
        C.refuse_class_subset("some_study", "a reason", "0-7")
    assert issubclass(C.ClassSubsetError, ValueError)


HONOUR = {"benchmarks", "lottery", "pooling", "metalearn_lr", "metalearn_activation", "ssl", "baseline_search",
          "lr_schedule", "optimizer_benchmark", "tsne", "many_hyperparameters"}
REFUSE = {"dataset", "classwise_errors", "double_descent", "epochwise_double_descent", "neural_collapse", "distill",
          "learned_optimizer", "reweight", "few_shot"}


def test_every_study_honours_or_refuses_a_subset_as_the_docstring_lists():
    """A study added later must be decided on: honoured (listed here and in the docstring) or refused
    (``REFUSES_CLASS_SUBSET``)."""
    from mnist1d_jax.report.runner import study_module
    from mnist1d_jax.studies import ALL

    refusing = {name for name in ALL if getattr(study_module(name), "REFUSES_CLASS_SUBSET", None)}
    assert refusing == REFUSE
    assert set(ALL) == HONOUR | REFUSE, "a study not yet decided on for class subsets"
    honour_text, refuse_text = C.__doc__.split("* refuse it:")
    for name in HONOUR:
        assert f"``{name}``" in honour_text, name
    for name in REFUSE:
        assert f"``{name}``" in refuse_text, name
