def get_assert(output, context):
    vowels = sum(output.lower().count(v) for v in "aeiou")
    return {"pass": vowels >= context["vars"]["min_vowels"], "score": min(1.0, vowels / 20),
            "reason": f"{vowels} vowels"}


def starts_upper(output, context):
    return output[:1].isupper()
