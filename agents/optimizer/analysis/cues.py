"""The vocabulary of prompt analysis: compiled patterns for the cues a reviewer looks for.
Kept in one place so the detectors read as rules, and compiled once at import (the
analysis must stay well under 5 ms per prompt).

Every pattern is lowercase and matched against lowercased text: Python's re is about five
times slower on these long alternations with re.IGNORECASE.
"""

from __future__ import annotations

import re

from agents.patterns.prefilter import Cue

LOWERCASE = 0  # flags: none; callers pass lowercased text (see module docstring)

# Verbs a request starts with ("Write ...", "Please summarize ...").
IMPERATIVE = Cue(
    r"^\s*(please\s+|now\s+|then\s+|also\s+|first,?\s+|finally,?\s+)?"
    r"(write|explain|describe|summari[sz]e|classify|categori[sz]e|extract|list|give|tell|"
    r"create|draft|compose|generate|translate|convert|rewrite|review|find|identify|compare|"
    r"analy[sz]e|answer|solve|calculate|compute|plan|suggest|recommend|propose|brainstorm|"
    r"make|build|design|outline|improve|edit|proofread|fix|debug|refactor|implement|check|"
    r"evaluate|assess|grade|rate|score|rank|sort|group|turn|read|respond|reply|return|use|"
    r"keep|be|act|imagine|provide|produce|show|help|decide|determine|predict|estimate|"
    r"detect|tag|label|map|format|count|select|choose|pick|name|define|discuss|argue|"
    r"critique|simplify|shorten|expand|paraphrase|continue|complete|fill|draw|sketch|"
    r"prepare|organi[sz]e|schedule|structure|highlight|flag|spot|verify|validate|test|"
    r"follow|do|don't|never|always|avoid|include|mention|cite|quote|start|end|begin|"
    r"consider|think|focus|ask|state|note|remember|make sure|ensure)\b",
    LOWERCASE,
)
REQUEST = Cue(
    r"\?|\b(can you|could you|would you|i need|i want|i'd like|help me|let's|you are|"
    r"your task|you will|you should|you must)\b",
    LOWERCASE,
)

_COUNT = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a single|a)"
FORMAT = Cue(
    r"\b(json|xml|yaml|csv|markdown|tables?|bullet(ed)?|bullets|numbered|list|"
    r"headings?|sections?|one word|single word|code block|columns?|rows?|schedule|"
    r"format(ted)?|template|yes or no|yes/no|labels?|score from|scale of|respond with|"
    r"reply with|answer with|return (only|just|them|it|a|the)|output|"
    r"only the \w+|nothing else|intent name|haiku|limerick|sonnet|subject line|title|"
    r"last line|per line|one per line)\b|"
    rf"\b{_COUNT}[- ](\S+ )?(words?|sentences?|paragraphs?|lines?|tweets?|bullets?|items?|"
    r"points?|characters?|ideas|names|slogans|tips|steps|examples|options|questions)\b|"
    r"\banswer:\s*<|\b(at most|under|no more than|maximum|max\.?) \d+",
    LOWERCASE,
)

PROSE_TASK = Cue(
    r"\b(write|explain|describe|summari[sz]e|draft|compose|create|tell me about|"
    r"blog|article|essay|story|poem|post|newsletter|lesson|speech|announcement|"
    r"description|cover letter|press release)\b",
    LOWERCASE,
)
CODE_TASK = Cue(
    r"\b(sql|query|code|function|regex|regular expression|script|program|class|api|"
    r"unit tests?|json|yaml|csv|schema|algorithm)\b",
    LOWERCASE,
)
AUDIENCE = Cue(
    r"\b(audiences?|readers?|beginners?|novices?|laypeople|layperson|layman|experts?|"
    r"customers?|kids|child|children|students?|pupils?|executives?|stakeholders?|"
    r"developers?|engineers?|managers?|patients?|clients?|investors?|parents?|"
    r"teenagers?|shoppers?|couples?|employees?|candidates?|users?|team|class|"
    r"colleagues?|non-technical|aimed at|write for|[\w]+-year-olds?|newcomers?|"
    r"subscribers?|fans?|members?|visitors?|buyers?|recruiters?|voters?|citizens?|"
    r"professionals?|scientists?|doctors?|nurses?|lawyers?|teachers?)\b",
    LOWERCASE,
)

VAGUE_STRONG = Cue(
    r"\b(something|stuff|things|etc\.?|whatever|somehow|kind of|sort of|interesting|"
    r"nice|cool|what do you think|make it (good|better|nice|great|pop)|improve (this|it|the)"
    r"|good stuff|and so on|or something)\b",
    LOWERCASE,
)
VAGUE_WEAK = Cue(
    r"\b(good|better|best|great|some|various|appropriate|properly|a few|many|several|"
    r"relevant|nicely|a lot)\b",
    LOWERCASE,
)

EXAMPLES = Cue(
    r"\b(examples?|e\.g\.|for instance|for example)\b|->|=>|^\s*input\s*:|^\s*output\s*:",
    LOWERCASE | re.M,
)
CLASSIFY = Cue(
    r"\b(classify|categori[sz]e|label (the|each|this)|tag (the|each|this)|"
    r"into one of|one of these (labels|categories|intents))\b",
    LOWERCASE,
)
EXTRACT = Cue(
    r"\b(extract|find all|pull out|list all|identify all|with the (keys|fields)|"
    r"json with (the )?(keys|fields))\b",
    LOWERCASE,
)
CONVERT = Cue(
    r"\b(convert|turn\b[^.]{0,80}\binto|transform\b[^.]{0,40}\binto|reformat|"
    r"in the style of|brand voice|normali[sz]e)\b",
    LOWERCASE,
)

CONSTRAINT = Cue(
    r"\b(must|must not|never|don't|do not|avoid|only|at most|at least|no more than|"
    r"under \d+|maximum|minimum|limit|keep (it|the|your)|without|exactly|required?)\b",
    LOWERCASE,
)
NUMBER = Cue(r"\b\d+(?:[.,]\d+)?\b")
NEGATION_BEFORE = Cue(
    r"\b(not|rather than|instead of|no|never|avoid|without)\s+(\w+\s+){0,2}$", LOWERCASE
)

# Pairs of requirements that cannot both hold.
BRIEF = Cue(
    r"\b(very brief|be brief|briefly|concise|in one sentence|one-sentence|one sentence|"
    r"in a few words|short)\b",
    LOWERCASE,
)
DEEP = Cue(
    r"\b(detailed|comprehensive|in depth|in-depth|thorough|exhaustive|every (step|detail)|"
    r"elaborate)\b",
    LOWERCASE,
)
FORMAL = Cue(r"\b(?<!in)formal\b", LOWERCASE)
CASUAL = Cue(r"\b(casual|slang|informal|chatty|colloquial)\b", LOWERCASE)
SIMPLE = Cue(
    r"\b(simple words|plain language|plain english|no jargon|avoid jargon|child can follow|"
    r"non-technical|layman'?s terms)\b",
    LOWERCASE,
)
JARGON = Cue(
    r"\b((precise |heavy )?technical (jargon|terminology)|jargon of|use (the )?jargon)\b",
    LOWERCASE,
)
ONLY_OUTPUT = Cue(
    r"\b(only (a |the )?json|nothing else|no other text|no text outside|only the "
    r"(label|answer|number|code|sql|translation|intent))\b",
    LOWERCASE,
)
EXPLAIN_TOO = Cue(
    r"\b(explain your reasoning|explain why|explanation|justify|show your work|"
    r"reasoning in a paragraph|with a paragraph)\b",
    LOWERCASE,
)
BULLETS_YES = Cue(r"\b(use|as|in) bullet(ed)? (points|list)\b", LOWERCASE)
BULLETS_NO = Cue(r"\b(no|don't use|do not use|without) bullet", LOWERCASE)
WORDS_AT_MOST = Cue(
    r"\b(?:at most|under|maximum(?: of)?|no more than|up to|fewer than|less than)"
    r"\s+(\d+)\s+words\b",
    LOWERCASE,
)
WORDS_AT_LEAST = Cue(
    r"\b(?:at least|minimum(?: of)?|more than|over)\s+(\d+)\s+words\b", LOWERCASE
)

# Variable names that usually hold free text from a user or document (worth fencing), as
# opposed to short values like {{name}} or {{date}}.
TEXT_VARIABLE = Cue(
    r"text|review|message|mail|article|document|doc\b|code|clause|paragraph|notes|csv|data|"
    r"content|input|question|ticket|invoice|answer|query|prompt|transcript|comment|"
    r"feedback|post|story|description|context|body|essay|report|chat|conversation|"
    r"complaint|request|page|html|log|tweet|summary|abstract|contract|letter|resume|cv\b",
    LOWERCASE,
)
# Tasks whose output is defined by the input (a translation is the text, translated).
IMPLICIT_FORMAT = Cue(r"\b(translat\w*|transliterat\w*|transcrib\w*)\b", LOWERCASE)
LABEL_LINE = Cue(r"^\s*[A-Za-z][\w-]*(?:\s+[\w-]+)?\s*:\s*$")
OPEN_DELIMITER = Cue(r'("""|```\w*|<\w+[^>]*>|"|\'|\[|\(|«|“)\s*$')


# Requirements that cannot both hold, as pairs of named sides.
CLASH_SIDES = {
    "brief": BRIEF, "deep": DEEP, "formal": FORMAL, "casual": CASUAL, "simple": SIMPLE,
    "jargon": JARGON, "only_output": ONLY_OUTPUT, "explain_too": EXPLAIN_TOO,
    "bullets_yes": BULLETS_YES, "bullets_no": BULLETS_NO,
}
CLASHES = (
    ("brief", "deep", "brief vs detailed"),
    ("formal", "casual", "formal vs casual"),
    ("simple", "jargon", "plain words vs technical jargon"),
    ("only_output", "explain_too", "only the output vs an explanation too"),
    ("bullets_yes", "bullets_no", "bullets vs no bullets"),
)
