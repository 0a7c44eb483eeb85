"""The vocabulary of prompt analysis: compiled patterns for the cues a reviewer looks for.
Kept in one place so the detectors read as rules, and compiled once at import (the
analysis must stay well under 5 ms per prompt)."""

from __future__ import annotations

import re

IGNORE_CASE = re.I

# Verbs a request starts with ("Write ...", "Please summarize ...").
IMPERATIVE = re.compile(
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
    IGNORE_CASE,
)
REQUEST = re.compile(
    r"\?|\b(can you|could you|would you|i need|i want|i'd like|help me|let's|you are|"
    r"your task|you will|you should|you must)\b",
    IGNORE_CASE,
)

_COUNT = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|a single|a)"
FORMAT = re.compile(
    r"\b(json|xml|yaml|csv|markdown|tables?|bullet(ed)?|bullets|numbered|list|"
    r"headings?|sections?|one word|single word|code block|columns?|rows?|schedule|"
    r"format(ted)?|template|yes or no|yes/no|labels?|score from|scale of|respond with|"
    r"reply with|answer with|return (only|just|them|it|a|the)|output|"
    r"only the \w+|nothing else|intent name|haiku|limerick|sonnet|subject line|title|"
    r"last line|per line|one per line)\b|"
    rf"\b{_COUNT}[- ](\S+ )?(words?|sentences?|paragraphs?|lines?|tweets?|bullets?|items?|"
    r"points?|characters?|ideas|names|slogans|tips|steps|examples|options|questions)\b|"
    r"\banswer:\s*<|\b(at most|under|no more than|maximum|max\.?) \d+",
    IGNORE_CASE,
)

PROSE_TASK = re.compile(
    r"\b(write|explain|describe|summari[sz]e|draft|compose|create|tell me about|"
    r"blog|article|essay|story|poem|post|newsletter|lesson|speech|announcement|"
    r"description|cover letter|press release)\b",
    IGNORE_CASE,
)
CODE_TASK = re.compile(
    r"\b(sql|query|code|function|regex|regular expression|script|program|class|api|"
    r"unit tests?|json|yaml|csv|schema|algorithm)\b",
    IGNORE_CASE,
)
AUDIENCE = re.compile(
    r"\b(audiences?|readers?|beginners?|novices?|laypeople|layperson|layman|experts?|"
    r"customers?|kids|child|children|students?|pupils?|executives?|stakeholders?|"
    r"developers?|engineers?|managers?|patients?|clients?|investors?|parents?|"
    r"teenagers?|shoppers?|couples?|employees?|candidates?|users?|team|class|"
    r"colleagues?|non-technical|aimed at|write for|[\w]+-year-olds?|newcomers?|"
    r"subscribers?|fans?|members?|visitors?|buyers?|recruiters?|voters?|citizens?|"
    r"professionals?|scientists?|doctors?|nurses?|lawyers?|teachers?)\b",
    IGNORE_CASE,
)

VAGUE_STRONG = re.compile(
    r"\b(something|stuff|things|etc\.?|whatever|somehow|kind of|sort of|interesting|"
    r"nice|cool|what do you think|make it (good|better|nice|great|pop)|improve (this|it|the)"
    r"|good stuff|and so on|or something)\b",
    IGNORE_CASE,
)
VAGUE_WEAK = re.compile(
    r"\b(good|better|best|great|some|various|appropriate|properly|a few|many|several|"
    r"relevant|nicely|a lot)\b",
    IGNORE_CASE,
)

EXAMPLES = re.compile(
    r"\b(examples?|e\.g\.|for instance|for example)\b|->|=>|^\s*input\s*:|^\s*output\s*:",
    IGNORE_CASE | re.M,
)
CLASSIFY = re.compile(
    r"\b(classify|categori[sz]e|label (the|each|this)|tag (the|each|this)|"
    r"into one of|one of these (labels|categories|intents))\b",
    IGNORE_CASE,
)
EXTRACT = re.compile(
    r"\b(extract|find all|pull out|list all|identify all|with the (keys|fields)|"
    r"json with (the )?(keys|fields))\b",
    IGNORE_CASE,
)
CONVERT = re.compile(
    r"\b(convert|turn\b[^.]{0,80}\binto|transform\b[^.]{0,40}\binto|reformat|"
    r"in the style of|brand voice|normali[sz]e)\b",
    IGNORE_CASE,
)

CONSTRAINT = re.compile(
    r"\b(must|must not|never|don't|do not|avoid|only|at most|at least|no more than|"
    r"under \d+|maximum|minimum|limit|keep (it|the|your)|without|exactly|required?)\b",
    IGNORE_CASE,
)
NUMBER = re.compile(r"\b\d+(?:[.,]\d+)?\b")
NEGATION_BEFORE = re.compile(
    r"\b(not|rather than|instead of|no|never|avoid|without)\s+(\w+\s+){0,2}$", IGNORE_CASE
)

# Pairs of requirements that cannot both hold.
BRIEF = re.compile(
    r"\b(very brief|be brief|briefly|concise|in one sentence|one-sentence|one sentence|"
    r"in a few words|short)\b",
    IGNORE_CASE,
)
DEEP = re.compile(
    r"\b(detailed|comprehensive|in depth|in-depth|thorough|exhaustive|every (step|detail)|"
    r"elaborate)\b",
    IGNORE_CASE,
)
FORMAL = re.compile(r"\b(?<!in)formal\b", IGNORE_CASE)
CASUAL = re.compile(r"\b(casual|slang|informal|chatty|colloquial)\b", IGNORE_CASE)
SIMPLE = re.compile(
    r"\b(simple words|plain language|plain english|no jargon|avoid jargon|child can follow|"
    r"non-technical|layman'?s terms)\b",
    IGNORE_CASE,
)
JARGON = re.compile(
    r"\b((precise |heavy )?technical (jargon|terminology)|jargon of|use (the )?jargon)\b",
    IGNORE_CASE,
)
ONLY_OUTPUT = re.compile(
    r"\b(only (a |the )?json|nothing else|no other text|no text outside|only the "
    r"(label|answer|number|code|sql|translation|intent))\b",
    IGNORE_CASE,
)
EXPLAIN_TOO = re.compile(
    r"\b(explain your reasoning|explain why|explanation|justify|show your work|"
    r"reasoning in a paragraph|with a paragraph)\b",
    IGNORE_CASE,
)
BULLETS_YES = re.compile(r"\b(use|as|in) bullet(ed)? (points|list)\b", IGNORE_CASE)
BULLETS_NO = re.compile(r"\b(no|don't use|do not use|without) bullet", IGNORE_CASE)
WORDS_AT_MOST = re.compile(
    r"\b(?:at most|under|maximum(?: of)?|no more than|up to|fewer than|less than)"
    r"\s+(\d+)\s+words\b",
    IGNORE_CASE,
)
WORDS_AT_LEAST = re.compile(
    r"\b(?:at least|minimum(?: of)?|more than|over)\s+(\d+)\s+words\b", IGNORE_CASE
)

# Variable names that usually hold free text from a user or document (worth fencing), as
# opposed to short values like {{name}} or {{date}}.
TEXT_VARIABLE = re.compile(
    r"text|review|message|mail|article|document|doc\b|code|clause|paragraph|notes|csv|data|"
    r"content|input|question|ticket|invoice|answer|query|prompt|transcript|comment|"
    r"feedback|post|story|description|context|body|essay|report|chat|conversation|"
    r"complaint|request|page|html|log|tweet|summary|abstract|contract|letter|resume|cv\b",
    IGNORE_CASE,
)
# Tasks whose output is defined by the input (a translation is the text, translated).
IMPLICIT_FORMAT = re.compile(r"\b(translat\w*|transliterat\w*|transcrib\w*)\b", IGNORE_CASE)
LABEL_LINE = re.compile(r"^\s*[A-Za-z][\w-]*(?:\s+[\w-]+)?\s*:\s*$")
OPEN_DELIMITER = re.compile(r'("""|```\w*|<\w+[^>]*>|"|\'|\[|\(|«|“)\s*$')
