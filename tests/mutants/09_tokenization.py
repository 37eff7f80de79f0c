"""Plausible wrong implementations of notebook 09's exercises; each must lose points."""
from autograder.mutants import Mutant

MUTANTS = [
    # ex1: pair counts and one merge
    Mutant("ex1_pairs", "pairs counted once per word type, ignoring the frequencies",
           {"counts[pair] = counts.get(pair, 0) + freq": "counts[pair] = counts.get(pair, 0) + 1"}),
    Mutant("ex1_pairs", "a pair counted once per word even when it occurs twice in it",
           {"for pair in zip(ids, ids[1:]):": "for pair in set(zip(ids, ids[1:])):"}),
    Mutant("ex1_pairs", "merge with overlaps: the scan advances by one after a match",
           {"            out.append(new_id)\n            i += 2": "            out.append(new_id)\n            i += 1"}),
    Mutant("ex1_pairs", "merge in place: the caller's list is changed",
           {"    out, i = [], 0\n    while i < len(ids):": "    out, i = ids, 0\n    while False:",
            "    return out\n    ### END SOLUTION": "    j = 0\n    while j < len(ids) - 1:\n"
            "        if ids[j] == pair[0] and ids[j + 1] == pair[1]:\n            ids[j:j + 2] = [new_id]\n"
            "        j += 1\n    return ids\n    ### END SOLUTION"}),
    Mutant("ex1_pairs", "the last element dropped when it is not part of a pair",
           {"    while i < len(ids):\n        if i + 1 < len(ids)": "    while i < len(ids) - 1:\n        if i + 1 < len(ids)"}),

    # ex2: GPT-2's pre-split
    Mutant("ex2_pre_split", r"\w+ instead of letters: digits and underscores glued to words",
           {r" ?\p{L}+| ?\p{N}+": r" ?\w+| ?\p{N}+"}),
    Mutant("ex2_pre_split", "Latin letters only: Hangul and other scripts fall apart",
           {r" ?\p{L}+": r" ?[A-Za-z]+", r"[^\s\p{L}\p{N}]": r"[^\sA-Za-z\p{N}]"}),
    Mutant("ex2_pre_split", r"no \s+(?!\S): a run of spaces keeps all its spaces, the next word none",
           {r"|\s+(?!\S)|\s+": r"|\s+"}),
    Mutant("ex2_pre_split", "no leading space on words",
           {r" ?\p{L}+": r"\p{L}+"}),
    Mutant("ex2_pre_split", "contractions not split off",
           {r"""'(?:[sdmt]|ll|ve|re)|""": ""}),
    Mutant("ex2_pre_split", "whitespace split with str.split (spaces and newlines lost)",
           {"return regex.findall(pattern, text)": "return text.split()"}),

    # ex3: training
    Mutant("ex3_train", "ties broken by the largest pair",
           {"heap = [(-c, pair) for pair, c in counts.items()]":
            "heap = [(-c, (-pair[0], -pair[1]), pair) for pair, c in counts.items()]",
            "neg, pair = heapq.heappop(heap)": "neg, _, pair = heapq.heappop(heap)",
            "heapq.heappush(heap, (-counts[p], p))": "heapq.heappush(heap, (-counts[p], (-p[0], -p[1]), p))"}),
    Mutant("ex3_train", "ties broken by first occurrence (dictionary order) instead of the smallest pair",
           {"neg, pair = heapq.heappop(heap)":
            "if not counts:\n            break\n        best = max(counts.values())\n"
            "        pair = next(p for p, c in counts.items() if c == best)\n        neg = -best"}),
    Mutant("ex3_train", "no pre-split: pairs counted across word boundaries",
           {"chunks.update(ref.pre_split(piece))": "chunks.update([piece])"}),
    Mutant("ex3_train", "special tokens left in the training text",
           {"        if not is_special:\n            chunks.update": "        if True:\n            chunks.update"}),
    Mutant("ex3_train", "chunk frequencies ignored (each distinct chunk counted once)",
           {"freqs = list(chunks.values())": "freqs = [1] * len(chunks)"}),
    Mutant("ex3_train", "new ids start at 255 + k",
           {"new_id = 256 + len(merges)": "new_id = 255 + len(merges)"}),
    Mutant("ex3_train", "stale heap entries trusted (a count that fell is merged anyway)",
           {"        if counts.get(pair, 0) != -neg:\n            continue": "        if counts.get(pair, 0) <= 0:\n            continue"}),
    Mutant("ex3_train", "recount every pair after each merge (right merges, far too slow)",
           {"        for i in where.pop(pair, ()):":
            "        for i in range(len(seqs)):\n            seqs[i] = ref.merge_pair(seqs[i], pair, new_id)\n"
            "        counts = Counter()\n        for i, seq in enumerate(seqs):\n            for q in zip(seq, seq[1:]):\n"
            "                counts[q] += freqs[i]\n        heap = [(-c, q) for q, c in counts.items()]\n"
            "        heapq.heapify(heap)\n        continue\n        for i in where.pop(pair, ()):"}),

    # ex4: encoding
    Mutant("ex4_encode", "merges applied in order of their count in the text, not their rank",
           {"pair = min(zip(seq, seq[1:]), key=lambda p: ranks.get(p, math.inf))":
            "present = Counter(p for p in zip(seq, seq[1:]) if p in ranks)\n"
            "                pair = max(present, key=lambda p: (present[p], -ranks[p])) if present else (-1, -1)"}),
    Mutant("ex4_encode", "merges applied in reverse rank order (the latest learned first)",
           {"key=lambda p: ranks.get(p, math.inf))": "key=lambda p: -ranks.get(p, -1))"}),
    Mutant("ex4_encode", "no pre-split at encode time: tokens cross word boundaries",
           {"for chunk in ref.pre_split(piece):": "for chunk in [piece] if piece else []:"}),
    Mutant("ex4_encode", "special tokens ignored: encoded as ordinary text and merged with their neighbours",
           {"    if special_tokens:\n        alternatives": "    if False:\n        alternatives"}),
    Mutant("ex4_encode", "special token ids counted from 256 (they collide with the merges)",
           {"special_ids = {s: 256 + len(merges) + j": "special_ids = {s: 256 + j"}),
    Mutant("ex4_encode", "encoding errors ignored: a lone surrogate silently dropped instead of raising",
           {'seq = list(chunk.encode("utf-8"))': 'seq = list(chunk.encode("utf-8", errors="ignore"))'}),

    # ex5: decoding
    Mutant("ex5_decode", "each token decoded on its own, then the strings joined (breaks split syllables)",
           {'return b"".join(table[i] for i in ids).decode("utf-8", errors="replace")':
            'return "".join(table[i].decode("utf-8", errors="replace") for i in ids)'}),
    Mutant("ex5_decode", "invalid bytes dropped (errors='ignore')",
           {'errors="replace"': 'errors="ignore"'}),
    Mutant("ex5_decode", "strict decoding: an invalid sequence raises",
           {'.decode("utf-8", errors="replace")': '.decode("utf-8")'}),
    Mutant("ex5_decode", "decoded as Latin-1",
           {'.decode("utf-8", errors="replace")': '.decode("latin-1")'}),
    Mutant("ex5_decode", "a merge's second part taken as a single byte",
           {"table[256 + k] = table[a] + table[b]": "table[256 + k] = table[a] + bytes([b % 256])"}),
    Mutant("ex5_decode", "special tokens not in the table",
           {'        table[256 + len(merges) + j] = s.encode("utf-8")': "        pass"}),

    # ex6: basic tokenization
    Mutant("ex6_basic", "lower-casing without accent stripping",
           {"strip = do_lower_case if strip_accents is None else strip_accents": "strip = bool(strip_accents)"}),
    Mutant("ex6_basic", "accents always stripped, even for cased vocabularies",
           {"strip = do_lower_case if strip_accents is None else strip_accents": "strip = strip_accents is not False"}),
    Mutant("ex6_basic", "punctuation not split off",
           {"            if ref_wp.is_punctuation(ch):": "            if False:"}),
    Mutant("ex6_basic", "only ASCII punctuation split off (string.punctuation)",
           {"            if ref_wp.is_punctuation(ch):": "            if ch in '!\"#$%&\\'()*+,-./:;<=>?@[\\\\]^_`{|}~':"}),
    Mutant("ex6_basic", "CJK ideographs not split apart",
           {'text = "".join(f" {ch} " if ref_wp.is_cjk(ch) else ch for ch in text)': "pass"}),
    Mutant("ex6_basic", "text not cleaned (control characters and NUL kept)",
           {'unicodedata.normalize("NFC", ref_wp.clean_text(text))': 'unicodedata.normalize("NFC", text)'}),
    Mutant("ex6_basic", "no NFC normalisation first",
           {'text = unicodedata.normalize("NFC", ref_wp.clean_text(text))': "text = ref_wp.clean_text(text)"}),
    Mutant("ex6_basic", "accents stripped with NFKD (compatibility forms such as ① and ﬁ rewritten too)",
           {'unicodedata.normalize("NFD", word) if': 'unicodedata.normalize("NFKD", word) if'}),
    Mutant("ex6_basic", "accents stripped by dropping every non-ASCII character",
           {'word = "".join(ch for ch in unicodedata.normalize("NFD", word) if unicodedata.category(ch) != "Mn")':
            'word = unicodedata.normalize("NFD", word).encode("ascii", "ignore").decode()'}),

    # ex7: WordPiece
    Mutant("ex7_wordpiece", "continuations without the ## prefix",
           {'piece = word[start:end] if start == 0 else "##" + word[start:end]': "piece = word[start:end]"}),
    Mutant("ex7_wordpiece", "shortest match instead of the longest",
           {"        end = len(word)\n        while end > start:": "        end = start + 1\n        while end <= len(word):",
            "            end -= 1\n        else:": "            end += 1\n        else:"}),
    Mutant("ex7_wordpiece", "[UNK] only for the uncovered character, the rest of the word kept",
           {"        else:\n            return [unk_token]": "        else:\n            pieces.append(unk_token)\n            start += 1\n            continue"}),
    Mutant("ex7_wordpiece", "a word of exactly the limit already [UNK] (>= instead of >)",
           {"if len(word) > max_input_chars_per_word:": "if len(word) >= max_input_chars_per_word:"}),
    Mutant("ex7_wordpiece", "the length limit counted in UTF-8 bytes instead of characters",
           {"if len(word) > max_input_chars_per_word:": "if len(word.encode('utf-8')) > max_input_chars_per_word:"}),
    Mutant("ex7_wordpiece", "no length limit",
           {"if len(word) > max_input_chars_per_word:": "if False:"}),
    Mutant("ex7_wordpiece", "unk_token argument ignored ('[UNK]' hard-coded)",
           {"            return [unk_token]": "            return ['[UNK]']"}),
]
