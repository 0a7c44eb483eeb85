"""javascript and python assertions, and output transforms, with promptfoo's semantics.

JavaScript runs in an embedded QuickJS engine (the `quickjs` package: no process per call,
a time and memory limit per evaluation), or in node when QuickJS is not installed; without
either, the assertion fails saying so. Python runs in a subprocess of this interpreter in
isolated mode (`-I`), killed at the time limit.

A one-line value is an expression (`output.includes('x')`, or `const n = ...; n > 2`); a
multi-line value is a function body that returns. The code sees `output` and `context`
(vars, prompt, test, provider). A file script arrives as {"script", "language",
"function"} (the experiment file read it), since workers may not see the user's files.
It may return a boolean, a number (the score; it passes above 0, or at its threshold), or
{pass, score, reason}.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import sys
from typing import Any

from agents.scorer.assertions.result import Check, GradingContext
from agents.scorer.assertions.text import BadAssertion
from schemas.experiment import Assertion

TIMEOUT_S = 10.0
MEMORY_LIMIT = 64 * 1024 * 1024


class ScriptError(RuntimeError):
    """The script failed: it raised, timed out, or returned something unusable."""


async def javascript(value: Any, output: str, assertion: Assertion,
                     ctx: GradingContext) -> Check:
    result = await run_javascript(value, output, ctx.script_context(), ctx.script_timeout_s)
    return script_check(result, assertion, "JavaScript")


async def python(value: Any, output: str, assertion: Assertion, ctx: GradingContext) -> Check:
    result = await run_python(value, output, ctx.script_context(), default_function="get_assert",
                              timeout_s=ctx.script_timeout_s)
    return script_check(result, assertion, "Python")


async def transform(code: str | dict[str, Any], output: Any, ctx: GradingContext) -> Any:
    """promptfoo's `transform`: JavaScript (or a .py/.js file script) from output to a new
    output, before assertions see it."""
    if isinstance(code, dict) and code.get("language") == "python":
        return await run_python(code, output, ctx.script_context(),
                                default_function="get_transform", timeout_s=ctx.script_timeout_s)
    return await run_javascript(code, output, ctx.script_context(), ctx.script_timeout_s)


def as_text(output: Any) -> str:
    return output if isinstance(output, str) else json.dumps(output)


# -- JavaScript --------------------------------------------------------------------------

def function_body(code: str) -> str:
    """What promptfoo makes of inline code: a multi-line value is a body; a one-liner is an
    expression to return, after any leading declarations."""
    code = code.rstrip()
    if "\n" in code:
        return code
    code = re.sub(r";+\s*$", "", code.strip())
    if re.match(r"(return|throw|if|for|while|switch|try|do)\b", code):
        return code  # a statement already
    if re.match(r"(const|let|var)\s", code):
        cut = _last_statement_break(code)
        if cut != -1:
            return f"{code[:cut + 1]} return {code[cut + 1:].strip()}"
        return code
    return f"return {code}"


def _last_statement_break(code: str) -> int:
    """The last `;` outside strings and brackets (a small scanner: enough for one-liners)."""
    depth, quote, last, i = 0, "", -1, 0
    while i < len(code):
        ch = code[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == ";" and depth == 0:
            last = i
        i += 1
    return last


def _js_program(code: str | dict[str, Any], output: Any, context: dict[str, Any]) -> str:
    def literal(value: Any) -> str:
        return f"JSON.parse({json.dumps(json.dumps(value))})"

    args = f"{literal(output)}, {literal(context)}"
    if isinstance(code, dict):  # a file: CommonJS, module.exports is the function (or has it)
        name = json.dumps(code.get("function") or "")
        call = (f"var module = {{exports: {{}}}}; var exports = module.exports;\n"
                f"{code['script']}\n;var __fn = {name} ? module.exports[{name}] : "
                f"(typeof module.exports === 'function' ? module.exports : module.exports.default);"
                "\nif (typeof __fn !== 'function')"
                " throw new Error('the script exports no function');"
                f"\nvar __result = __fn({args});")
    else:
        call = f"var __result = (function(output, context) {{\n{function_body(code)}\n}})({args});"
    result = "JSON.stringify(__result === undefined ? null : __result)"
    return f"(function() {{\n{call}\nreturn {result};\n}})()"


def javascript_engine() -> str:
    """"quickjs", "node", or "" when this machine has neither."""
    try:
        import quickjs  # noqa: F401
    except ImportError:
        return "node" if shutil.which("node") else ""
    return "quickjs"


async def run_javascript(code: str | dict[str, Any], output: Any, context: dict[str, Any],
                         timeout_s: float = TIMEOUT_S) -> Any:
    program = _js_program(code, output, context)
    engine = javascript_engine()
    if engine == "quickjs":
        text = await asyncio.to_thread(_quickjs_eval, program, timeout_s)
    elif engine == "node":
        text = await _subprocess(["node", "-e", f"process.stdout.write({program})"], "",
                                 timeout_s, "JavaScript")
    else:
        raise ScriptError("javascript assertions need a JavaScript engine: pip install "
                          "quickjs (or install node)")
    return json.loads(text) if text else None


def _quickjs_eval(program: str, timeout_s: float) -> str:
    import quickjs

    context = quickjs.Context()
    context.set_memory_limit(MEMORY_LIMIT)
    context.set_time_limit(max(1, round(timeout_s)))
    try:
        return context.eval(program) or ""
    except quickjs.JSException as err:
        message = str(err).splitlines()[0] if str(err) else repr(err)
        if "interrupted" in message:
            message = f"timed out after {timeout_s:g} s"
        raise ScriptError(f"JavaScript failed: {message}") from None


# -- Python ------------------------------------------------------------------------------

_PY_RUNNER = r'''
import importlib.util, json, os, sys
job = json.loads(sys.stdin.read())
if job.get("script") is not None:
    path = job.get("path") or "<assertion>"
    if os.path.dirname(path):
        sys.path.insert(0, os.path.dirname(os.path.abspath(path)))
    scope = {"__name__": "assertion", "__file__": path}
    exec(compile(job["script"], path, "exec"), scope)
    name = job.get("function") or job["default_function"]
    fn = scope.get(name)
    if not callable(fn):
        raise SystemExit("the script defines no function " + repr(name))
else:
    code = job["code"]
    if "\n" in code.strip():
        lines = code.strip("\n").splitlines()
        body = "\n".join("    " + line for line in lines)
    else:
        body = "    return " + code.strip()
    scope = {}
    exec("import json, re, math\ndef main(output, context):\n" + body + "\n", scope)
    fn = scope["main"]
result = fn(job["output"], job["context"])
sys.stdout.write("\n\x1eRESULT\x1e" + json.dumps(result, default=str))
'''


async def run_python(code: str | dict[str, Any], output: Any, context: dict[str, Any], *,
                     default_function: str, timeout_s: float = TIMEOUT_S) -> Any:
    job: dict[str, Any] = {"output": output, "context": context,
                           "default_function": default_function}
    if isinstance(code, dict):
        job |= {"script": code["script"], "function": code.get("function"),
                "path": code.get("path")}
    else:
        job["code"] = code
    text = await _subprocess([sys.executable, "-I", "-c", _PY_RUNNER], json.dumps(job),
                             timeout_s, "Python")
    marker = "\x1eRESULT\x1e"
    if marker not in text:
        raise ScriptError("Python returned nothing")
    return json.loads(text.rsplit(marker, 1)[1])


async def _subprocess(argv: list[str], stdin: str, timeout_s: float, language: str) -> str:
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin.encode()), timeout_s)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise ScriptError(f"{language} timed out after {timeout_s:g} s") from None
    if process.returncode != 0:
        lines = [line for line in err.decode(errors="replace").strip().splitlines() if line]
        last = lines[-1] if lines else f"exit {process.returncode}"
        raise ScriptError(f"{language} failed: {last}")
    return out.decode(errors="replace")


# -- results -----------------------------------------------------------------------------

def script_check(result: Any, assertion: Assertion, language: str) -> Check:
    """A script's return value as a verdict, as promptfoo reads it."""
    if isinstance(result, str):
        low = result.strip().lower()
        if low in ("true", "false"):
            result = low == "true"
        elif low.startswith("{"):
            try:
                result = json.loads(result)
            except ValueError:
                raise ScriptError(f"{language} returned invalid JSON: {result[:200]}") from None
        else:
            try:
                result = float(result)
            except ValueError:
                raise ScriptError(f"{language} must return a boolean, a number or "
                                  f"{{pass, score, reason}}; got {result[:200]!r}") from None
    if isinstance(result, bool):
        return Check.binary(result, f"{language} code returned false")
    if isinstance(result, (int, float)):
        passed = result >= assertion.threshold if assertion.threshold is not None else result > 0
        return Check(passed, float(result), "Assertion passed" if passed
                     else f"{language} code returned {result:g}")
    if isinstance(result, dict) and ("pass" in result or "score" in result):
        stated = result.get("pass")
        raw_score = result.get("score")
        score = float(raw_score) if isinstance(raw_score, (int, float)) and not isinstance(
            raw_score, bool) else (1.0 if stated else 0.0)
        passed = bool(stated) if stated is not None else score > 0
        reason = str(result.get("reason") or ("Assertion passed" if passed else
                                              f"{language} code returned a failure"))
        if assertion.threshold is not None and score < assertion.threshold:
            passed = False
            reason = (f"{language} score {score:g} is less than threshold "
                      f"{assertion.threshold:g}: {reason}")
        return Check(passed, score, reason)
    raise ScriptError(f"{language} must return a boolean, a number or {{pass, score, reason}};"
                      f" got {json.dumps(result)[:200]}")


def check_script_value(value: Any, assertion_type: str) -> None:
    """For the experiment file's checks: code is a non-empty string or a file script."""
    if isinstance(value, dict) and isinstance(value.get("script"), str):
        return
    if not isinstance(value, str) or not value.strip():
        raise BadAssertion(f'"{assertion_type}" needs code as its value')
