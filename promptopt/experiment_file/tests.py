"""promptfoo tests: inline, or file:// CSV (promptfoo's __expected, __description,
__threshold, __metric, __metadata columns), YAML, JSON, JSONL, globs and lists of these;
defaultTest merged into each; vars from files (text, or parsed JSON/YAML) and arrays
(every combination is a test case, as promptfoo expands them)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from promptopt.experiment_file.assertions import (
    assertion_from_string,
    check_assertion,
    grader_models,
    read_assertion,
    transform_code,
)
from promptopt.experiment_file.checks import (
    ExperimentFileError,
    Notes,
    check_keys,
    expect_list,
    expect_mapping,
)
from promptopt.experiment_file.files import Files, is_ref

TEST_KEYS = {"description", "vars", "assert", "options", "threshold", "metadata", "id",
             "expected", "provider", "providers"}
TEST_REFUSED = {
    "providerOutput": "fixed provider outputs",
    "assertScoringFunction": "custom scoring functions",
    "prompts": "per-test prompt filters",
}
OPTION_KEYS = {"transform", "postprocess", "provider", "rubricPrompt", "disableVarExpansion",
               "prefix", "suffix"}
OPTION_IGNORED = {"runSerially": "trials run concurrently under per-model limits",
                  "cache": "the LLM cache is a setting (PROMPTOPT_LLM_CACHE_PATH)"}
OPTION_REFUSED = {"storeOutputAs": "storeOutputAs", "transformVars": "transformVars"}
CSV_SPECIAL = ("expected", "description", "threshold", "metric", "metadata", "prefix",
               "suffix", "providerOutput", "config")
MAX_TEST_CASES = 10_000
# Keys of a test case dict that hold its per-test `provider` and `providers` as written.
PROVIDER = "__provider"
FILTER = "__providers"


def read_tests(raw: Any, default: Any, files: Files, notes: Notes) -> list[dict[str, Any]]:
    """TestCase dicts, ids unique, in file order."""
    default = expect_mapping(default or {}, "defaultTest")
    check_keys(default, "defaultTest", supported=TEST_KEYS - {"id", "expected"},
               refused=TEST_REFUSED)
    raw_tests = _collect(raw, files, notes)
    cases: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for where, test in raw_tests:
        for case in _test_cases(test, default, where, files, notes, index=len(cases)):
            base_id = case["id"]
            seen[base_id] = seen.get(base_id, 0) + 1
            if seen[base_id] > 1:
                case["id"] = f"{base_id} #{seen[base_id]}"[:200]
            cases.append(case)
            if len(cases) > MAX_TEST_CASES:
                raise ExperimentFileError(f"tests: more than {MAX_TEST_CASES:,} test cases")
    return cases


def _collect(raw: Any, files: Files, notes: Notes) -> list[tuple[str, dict[str, Any]]]:
    if raw is None:
        return [("tests", {})]  # no tests: each prompt once, without vars (as promptfoo)
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(expect_list(raw, "tests")):
        where = f"tests.{i}" if isinstance(raw, list) else "tests"
        if is_ref(item):
            for path in files.paths(item, where):
                data = files.data(path, where)
                rows = data if isinstance(data, list) else [data]
                for j, row in enumerate(rows):
                    row_where = f"{path.name} row {j + 1}"
                    if path.suffix.lower() == ".csv":
                        out.append((row_where, test_from_csv_row(row, row_where, notes)))
                    elif isinstance(row, dict):
                        out.append((row_where, row))
                    else:
                        raise ExperimentFileError(f"{row_where}: expected a test {{vars, "
                                                  "assert, ...}}")
        elif isinstance(item, dict):
            out.append((where, item))
        else:
            raise ExperimentFileError(f"{where}: expected a test {{vars, assert, ...}} or a "
                                      "file:// path")
    return out


def test_from_csv_row(row: dict[str, str], where: str, notes: Notes) -> dict[str, Any]:
    vars_: dict[str, Any] = {}
    asserts: list[dict[str, Any]] = []
    test: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    metric = None
    for key, value in row.items():
        if key.startswith("__expected"):
            if value.strip():
                asserts.append(assertion_from_string(value))
        elif key == "__description":
            test["description"] = value
        elif key == "__threshold":
            if value.strip():
                try:
                    test["threshold"] = float(value)
                except ValueError:
                    raise ExperimentFileError(f"{where}: __threshold {value!r} is not a "
                                              "number") from None
        elif key == "__metric":
            metric = value or None
        elif key in ("__prefix", "__suffix"):
            if value:
                test.setdefault("options", {})[key[2:]] = value
        elif key.startswith("__metadata:"):
            name = key.removeprefix("__metadata:")
            metadata[name] = [v.strip() for v in value.split(",")] if name.endswith("[]") \
                else value
        elif key == "__metadata":
            if value.strip():
                try:
                    metadata.update(json.loads(value))
                except (ValueError, TypeError):
                    raise ExperimentFileError(f"{where}: __metadata must be a JSON object") \
                        from None
        elif key.startswith("__"):
            raise ExperimentFileError(f"{where}: the CSV column {key} is not supported "
                                      "(known: __expected, __description, __threshold, "
                                      "__metric, __metadata, __metadata:<name>, __prefix, "
                                      "__suffix)")
        else:
            if key.startswith("_") and key[1:].split(":")[0].rstrip("0123456789") in CSV_SPECIAL:
                notes.warn(f"{where}: the column {key} has one underscore; did you mean _{key}?")
            vars_[key] = value
    if metric:
        for a in asserts:
            a["metric"] = metric
    test["vars"] = vars_
    test["assert"] = asserts
    if metadata:
        test["metadata"] = {k.removesuffix("[]"): v for k, v in metadata.items()}
    return test


def _test_cases(test: dict[str, Any], default: dict[str, Any], where: str, files: Files,
                notes: Notes, *, index: int) -> list[dict[str, Any]]:
    check_keys(test, where, supported=TEST_KEYS, refused=TEST_REFUSED)
    options = {**expect_mapping(default.get("options") or {}, "defaultTest.options"),
               **expect_mapping(test.get("options") or {}, f"{where}.options")}
    check_keys(options, f"{where}.options", supported=OPTION_KEYS, ignored=OPTION_IGNORED,
               refused=OPTION_REFUSED, notes=notes)
    vars_ = {**_vars(default.get("vars"), "defaultTest.vars", files),
             **_vars(test.get("vars"), f"{where}.vars", files)}
    grader, embedder = grader_models(options.get("provider"), f"{where}.options.provider")
    rubric = options.get("rubricPrompt")
    if rubric is not None and not isinstance(rubric, str):
        rubric = json.dumps(rubric)
    raw_asserts = [*expect_list(default.get("assert") or [], "defaultTest.assert"),
                   *expect_list(test.get("assert") or [], f"{where}.assert")]
    asserts = [read_assertion(a, f"{where}.assert.{k}", files, grader=grader,
                              embedder=embedder, rubric_prompt=rubric)
               for k, a in enumerate(raw_asserts)]
    transform = options.get("transform") or options.get("postprocess")
    metadata = {**(default.get("metadata") or {}), **(test.get("metadata") or {})}
    threshold = test.get("threshold", default.get("threshold"))
    description = test.get("description")
    base_id = str(test.get("id") or description or f"t{index + 1}")[:200]

    combos = [vars_] if options.get("disableVarExpansion") else _expand(vars_)
    cases = []
    for k, combo in enumerate(combos):
        case_id = base_id if len(combos) == 1 else f"{base_id} [{k + 1}]"[:200]
        case: dict[str, Any] = {"id": case_id, "vars": combo, "assertions": asserts}
        if description is not None:
            case["description"] = str(description)
        if test.get("expected") is not None:
            case["expected"] = str(test["expected"])
        if threshold is not None:
            case["threshold"] = threshold
        if transform is not None:
            case["transform"] = transform_code(transform, f"{where}.options.transform", files)
        for key in ("prefix", "suffix"):
            if options.get(key) is not None:
                if not isinstance(options[key], str):
                    raise ExperimentFileError(f"{where}.options.{key}: expected text")
                case[key] = options[key]
        if metadata:
            case["metadata"] = metadata
        # Resolved against the experiment's providers once every test is read
        # (promptopt.experiment_file.test_models): popped before validation.
        provider = test.get("provider", default.get("provider"))
        if provider is not None:
            case[PROVIDER] = (provider, f"{where}.provider")
        filters = test.get("providers", default.get("providers"))
        if filters is not None:
            case[FILTER] = ([str(p) for p in expect_list(filters, f"{where}.providers")],
                            f"{where}.providers")
        for j, a in enumerate(asserts):
            check_assertion(a, combo, f"{where}.assert.{j}" if j >= len(
                default.get("assert") or []) else f"defaultTest.assert.{j} (in {where})")
        cases.append(case)
    return cases


def _vars(raw: Any, where: str, files: Files) -> dict[str, Any]:
    if raw is None:
        return {}
    if is_ref(raw):
        [path] = files.paths(raw, where)[:1]
        raw = files.data(path, where)
    values = expect_mapping(raw, where)
    out: dict[str, Any] = {}
    for name, value in values.items():
        if is_ref(value):
            found = [files.data(p, f"{where}.{name}") if p.suffix.lower() in (
                ".json", ".yaml", ".yml") else files.text(p, f"{where}.{name}")
                for p in files.paths(value, f"{where}.{name}")]
            if any(p.suffix.lower() in (".py", ".js") for p in files.paths(value, where)):
                raise ExperimentFileError(f"{where}.{name}: not supported: vars computed by "
                                          "scripts")
            value = found[0] if len(found) == 1 and "*" not in value else found
        elif isinstance(value, list):
            value = [_file_value(v, f"{where}.{name}", files) for v in value]
        out[str(name)] = value
    return out


def _file_value(value: Any, where: str, files: Files) -> Any:
    if not is_ref(value):
        return value
    [path] = files.paths(value, where)[:1]
    return files.text(path, where)


def _expand(vars_: dict[str, Any]) -> list[dict[str, Any]]:
    """promptfoo's var expansion: a list-valued var makes one test per item, every
    combination of the lists."""
    lists = {k: v for k, v in vars_.items() if isinstance(v, list)}
    if not lists:
        return [vars_]
    names = list(lists)
    return [{**vars_, **dict(zip(names, combo, strict=True))}
            for combo in itertools.product(*(lists[n] for n in names))]
