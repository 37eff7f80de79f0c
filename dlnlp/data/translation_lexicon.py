"""The lexicon of the English-Korean grammar in :mod:`dlnlp.data.translation`: words, and which words fit
together. Data only; the generator and its rules live in :mod:`dlnlp.data.translation`.

Every English word maps to one Korean word in its context (``young`` is 어린 for a child and 젊은 for
an adult; ``cook`` is 끓이다 for soup and 짓다 for rice), and back, so a sentence pair is one-to-one.
"""
from __future__ import annotations

from dataclasses import dataclass, field

# (English, Korean, grammatical person: "1s", "2", "3s", "pl", gender: "m", "f" or "")
PRONOUNS = [("I", "나", "1s", ""), ("you", "너", "2", ""), ("he", "그", "3s", "m"), ("she", "그녀", "3s", "f"),
            ("we", "우리", "pl", ""), ("they", "그들", "pl", "")]

# possessive determiners (English, Korean, gender of the owner)
POSSESSIVES = [("my", "내", ""), ("your", "너의", ""), ("his", "그의", "m"), ("her", "그녀의", "f"),
               ("our", "우리", "")]
OWN = "자기"  # his/her when the owner is the subject: 그녀는 자기 개를 씻겼다

# nouns by kind: (English, Korean). Mass nouns take no article.
NOUNS: dict[str, list[tuple[str, str]]] = {
    "person": [("friend", "친구"), ("teacher", "선생님"), ("sister", "여동생"), ("brother", "남동생"),
               ("mother", "어머니"), ("father", "아버지"), ("doctor", "의사"), ("student", "학생"),
               ("child", "아이"), ("baby", "아기"), ("neighbor", "이웃"), ("grandmother", "할머니")],
    "food": [("apple", "사과"), ("cake", "케이크"), ("banana", "바나나"), ("orange", "오렌지"),
             ("sandwich", "샌드위치"), ("egg", "계란"), ("pizza", "피자"), ("cookie", "쿠키"),
             ("tomato", "토마토"), ("melon", "멜론")],
    "mass": [("bread", "빵"), ("rice", "밥"), ("kimchi", "김치"), ("soup", "국"), ("meat", "고기"),
             ("cheese", "치즈")],
    "thing": [("bag", "가방"), ("umbrella", "우산"), ("chair", "의자"), ("car", "자동차"), ("cup", "컵"),
              ("hat", "모자"), ("key", "열쇠"), ("computer", "컴퓨터"), ("pencil", "연필"), ("box", "상자"),
              ("clock", "시계"), ("phone", "전화기"), ("camera", "카메라"), ("table", "탁자"),
              ("bicycle", "자전거"), ("window", "창문"), ("door", "문")],
    "text": [("book", "책"), ("letter", "편지"), ("newspaper", "신문"), ("story", "이야기"),
             ("report", "보고서"), ("card", "카드")],
    "animal": [("dog", "개"), ("cat", "고양이"), ("rabbit", "토끼"), ("horse", "말"), ("duck", "오리"),
               ("puppy", "강아지"), ("turtle", "거북이")],
    "room": [("room", "방"), ("kitchen", "부엌"), ("garden", "정원"), ("yard", "마당")],
}

#: people spoken of with the honorific -시- (선생님은 ... 계신다, 어머니는 ... 드셨다)
HONORIFIC = {"teacher", "mother", "father", "grandmother"}
#: gender of the nouns English marks it on (for his/her -> 자기)
GENDER = {"sister": "f", "mother": "f", "grandmother": "f", "brother": "m", "father": "m"}
#: possessives a noun takes ("my mother" is 우리 어머니; "our mother" would read the same, so it is not
#: generated; "my teacher" likewise; a doctor takes none)
POSSESSIVES_OF = {"mother": ("my", "your", "his", "her"), "father": ("my", "your", "his", "her"),
                  "grandmother": ("my", "your", "his", "her"), "teacher": ("your", "his", "her", "our"),
                  "doctor": ()}
#: Korean possessive that differs from the plain one for this noun
KOREAN_POSSESSIVE = {("my", "mother"): "우리", ("my", "father"): "우리", ("my", "grandmother"): "우리"}


@dataclass(frozen=True)
class Adjective:
    english: str
    korean: str  # attributive, before a noun: 큰
    linked: str | None  # the -고 form that links it to the next adjective (크고); None: must stand last


ADJECTIVES: dict[str, list[Adjective]] = {
    "person": [Adjective("young", "젊은", "젊고"), Adjective("kind", "친절한", "친절하고"),
               Adjective("happy", "행복한", "행복하고"), Adjective("busy", "바쁜", "바쁘고"),
               Adjective("tired", "피곤한", "피곤하고"), Adjective("smart", "똑똑한", "똑똑하고")],
    "food": [Adjective("delicious", "맛있는", "맛있고"), Adjective("warm", "따뜻한", "따뜻하고"),
             Adjective("sweet", "달콤한", "달콤하고"), Adjective("fresh", "신선한", "신선하고"),
             Adjective("big", "큰", "크고"), Adjective("small", "작은", "작고"), Adjective("cheap", "싼", "싸고"),
             Adjective("expensive", "비싼", "비싸고")],
    "thing": [Adjective("big", "큰", "크고"), Adjective("small", "작은", "작고"), Adjective("red", "빨간", "빨갛고"),
              Adjective("blue", "파란", "파랗고"), Adjective("black", "검은", "검고"),
              Adjective("white", "하얀", "하얗고"), Adjective("new", "새", None),
              Adjective("old", "오래된", "오래되고"), Adjective("cheap", "싼", "싸고"),
              Adjective("expensive", "비싼", "비싸고"), Adjective("heavy", "무거운", "무겁고"),
              Adjective("pretty", "예쁜", "예쁘고")],
    "text": [Adjective("long", "긴", "길고"), Adjective("short", "짧은", "짧고"), Adjective("new", "새", None),
             Adjective("old", "오래된", "오래되고"), Adjective("funny", "재미있는", "재미있고"),
             Adjective("sad", "슬픈", "슬프고")],
    "animal": [Adjective("big", "큰", "크고"), Adjective("small", "작은", "작고"), Adjective("cute", "귀여운", "귀엽고"),
               Adjective("black", "검은", "검고"), Adjective("white", "하얀", "하얗고"),
               Adjective("hungry", "배고픈", "배고프고"), Adjective("sleepy", "졸린", "졸리고")],
    "room": [Adjective("big", "큰", "크고"), Adjective("small", "작은", "작고"), Adjective("dirty", "더러운", "더럽고"),
             Adjective("new", "새", None), Adjective("old", "오래된", "오래되고")],
    "place": [Adjective("big", "큰", "크고"), Adjective("small", "작은", "작고"), Adjective("new", "새", None),
              Adjective("old", "오래된", "오래되고"), Adjective("quiet", "조용한", "조용하고"),
              Adjective("crowded", "붐비는", "붐비고")],
}
ADJECTIVES["mass"] = ADJECTIVES["food"]
#: "young" for a child is 어린, not 젊은
YOUNG_CHILD = Adjective("young", "어린", "어리고")
CHILDREN = {"child", "baby", "sister", "brother"}
#: adjectives that do not fit a noun (a big rice, a sweet soup, a busy baby, a warm apple)
NOT_WITH: dict[str, set[str]] = {
    "rice": {"big", "small", "sweet", "fresh"}, "soup": {"big", "small", "sweet", "fresh"},
    "kimchi": {"big", "small", "sweet", "warm"}, "meat": {"big", "small", "sweet"},
    "cheese": {"big", "small", "sweet", "warm"}, "bread": {"big", "small"},
    "apple": {"warm"}, "banana": {"warm"}, "orange": {"warm"}, "tomato": {"warm"}, "melon": {"warm"},
    "sandwich": {"sweet"}, "egg": {"sweet"}, "pizza": {"sweet"},
    "baby": {"busy", "kind", "young"}, "child": {"busy"}, "grandmother": {"young"},
    "pencil": {"heavy"}, "key": {"heavy"},
}


@dataclass(frozen=True)
class Verb:
    english: tuple[str, str, str]  # base, 3rd person singular, past
    korean: tuple[str, str, str]  # present, past, future
    honorific: tuple[str, str, str]  # the same with -시- (for a teacher or a parent)
    objects: tuple[str, ...]  # kinds of object, or single English nouns
    #: objects that take another Korean verb: English noun -> (plain forms, honorific forms)
    korean_for: dict[str, tuple[tuple[str, str, str], tuple[str, str, str]]] = field(default_factory=dict)
    by_animals: bool = False  # an animal or a baby can do it
    places: tuple[str, ...] | None = None  # where it is done ("at the X"); None: anywhere


_FOOD_PLACES = ("home", "kitchen", "restaurant", "cafe", "bakery")
VERBS: list[Verb] = [
    Verb(("eat", "eats", "ate"), ("먹는다", "먹었다", "먹을 것이다"), ("드신다", "드셨다", "드실 것이다"),
         ("food", "mass"), by_animals=True),
    Verb(("buy", "buys", "bought"), ("산다", "샀다", "살 것이다"), ("사신다", "사셨다", "사실 것이다"),
         ("food", "bread", "kimchi", "meat", "cheese", "thing", "text")),
    Verb(("sell", "sells", "sold"), ("판다", "팔았다", "팔 것이다"), ("파신다", "파셨다", "파실 것이다"),
         ("food", "mass", "thing")),
    Verb(("see", "sees", "saw"), ("본다", "봤다", "볼 것이다"), ("보신다", "보셨다", "보실 것이다"),
         ("thing", "animal", "person"), by_animals=True),
    Verb(("like", "likes", "liked"), ("좋아한다", "좋아했다", "좋아할 것이다"),
         ("좋아하신다", "좋아하셨다", "좋아하실 것이다"), ("food", "mass", "thing", "animal", "person", "text"),
         by_animals=True),
    Verb(("love", "loves", "loved"), ("사랑한다", "사랑했다", "사랑할 것이다"),
         ("사랑하신다", "사랑하셨다", "사랑하실 것이다"), ("animal", "person"), by_animals=True),
    Verb(("make", "makes", "made"), ("만든다", "만들었다", "만들 것이다"), ("만드신다", "만드셨다", "만드실 것이다"),
         ("cake", "sandwich", "pizza", "cookie", "bread", "kimchi", "cheese", "book", "card"),
         places=_FOOD_PLACES),
    Verb(("bake", "bakes", "baked"), ("굽는다", "구웠다", "구울 것이다"), ("구우신다", "구우셨다", "구우실 것이다"),
         ("cake", "cookie", "pizza", "bread"), places=_FOOD_PLACES),
    Verb(("cook", "cooks", "cooked"), ("요리한다", "요리했다", "요리할 것이다"),
         ("요리하신다", "요리하셨다", "요리하실 것이다"), ("soup", "rice", "meat", "egg"),
         korean_for={"soup": (("끓인다", "끓였다", "끓일 것이다"), ("끓이신다", "끓이셨다", "끓이실 것이다")),
                     "rice": (("짓는다", "지었다", "지을 것이다"), ("지으신다", "지으셨다", "지으실 것이다")),
                     "meat": (("굽는다", "구웠다", "구울 것이다"), ("구우신다", "구우셨다", "구우실 것이다"))},
         places=_FOOD_PLACES),
    Verb(("find", "finds", "found"), ("찾는다", "찾았다", "찾을 것이다"), ("찾으신다", "찾으셨다", "찾으실 것이다"),
         ("thing", "animal", "text"), by_animals=True),
    Verb(("wash", "washes", "washed"), ("씻는다", "씻었다", "씻을 것이다"), ("씻으신다", "씻으셨다", "씻으실 것이다"),
         ("apple", "tomato", "melon", "cup", "animal"),
         korean_for={a: (("씻긴다", "씻겼다", "씻길 것이다"), ("씻기신다", "씻기셨다", "씻기실 것이다"))
                     for a, _ in NOUNS["animal"]},
         places=("home", "kitchen", "garden", "yard")),
    Verb(("draw", "draws", "drew"), ("그린다", "그렸다", "그릴 것이다"), ("그리신다", "그리셨다", "그리실 것이다"),
         ("thing", "animal", "person")),
    Verb(("help", "helps", "helped"), ("돕는다", "도왔다", "도울 것이다"), ("도우신다", "도우셨다", "도우실 것이다"),
         ("person",)),
    Verb(("meet", "meets", "met"), ("만난다", "만났다", "만날 것이다"), ("만나신다", "만나셨다", "만나실 것이다"),
         ("person",)),
    Verb(("carry", "carries", "carried"), ("나른다", "날랐다", "나를 것이다"), ("나르신다", "나르셨다", "나르실 것이다"),
         ("box", "chair", "table", "computer", "bag")),
    Verb(("write", "writes", "wrote"), ("쓴다", "썼다", "쓸 것이다"), ("쓰신다", "쓰셨다", "쓰실 것이다"),
         ("book", "letter", "story", "report", "card")),
    Verb(("clean", "cleans", "cleaned"), ("청소한다", "청소했다", "청소할 것이다"),
         ("청소하신다", "청소하셨다", "청소하실 것이다"),
         ("room", "chair", "table", "window", "car", "bicycle", "door", "computer"),
         korean_for={t: (("닦는다", "닦았다", "닦을 것이다"), ("닦으신다", "닦으셨다", "닦으실 것이다"))
                     for t in ("chair", "table", "window", "car", "bicycle", "door", "computer")}),
]
GO = Verb(("go", "goes", "went"), ("간다", "갔다", "갈 것이다"), ("가신다", "가셨다", "가실 것이다"), (),
          by_animals=True)
BE = {"present": {"1s": "am", "2": "are", "3s": "is", "pl": "are"},
      "past": {"1s": "was", "2": "were", "3s": "was", "pl": "were"}}
EXIST_KO = {"present": "있다", "past": "있었다", "future": "있을 것이다"}
EXIST_HONORIFIC = {"present": "계신다", "past": "계셨다", "future": "계실 것이다"}

# places: (preposition, English noun without article, Korean, takes "the", reachable by "go")
PLACES: list[tuple[str, str, str, bool, bool]] = [
    ("at", "school", "학교", False, True), ("at", "home", "집", False, True),
    ("in", "library", "도서관", True, True), ("in", "park", "공원", True, True),
    ("at", "market", "시장", True, True), ("on", "subway", "지하철", True, False),
    ("on", "bus", "버스", True, False), ("at", "station", "역", True, True),
    ("in", "office", "사무실", True, True), ("at", "cafe", "카페", True, True),
    ("in", "classroom", "교실", True, True), ("at", "hospital", "병원", True, True),
    ("at", "restaurant", "식당", True, True), ("at", "beach", "해변", True, True),
    ("in", "museum", "박물관", True, True), ("at", "bakery", "빵집", True, True),
    ("in", "kitchen", "부엌", True, False),
]
#: where an animal can be or go; a baby too, and to hospital
ANIMAL_PLACES = ("home", "park", "beach", "kitchen")
BABY_PLACES = ANIMAL_PLACES + ("hospital",)

# time phrases by tense: (English words, Korean words)
TIMES: dict[str, list[tuple[str, str]]] = {
    "past": [("yesterday", "어제"), ("last week", "지난주에"), ("this morning", "오늘 아침에"),
             ("last night", "어젯밤에"), ("two days ago", "이틀 전에"), ("last year", "작년에")],
    "present": [("every day", "매일"), ("every morning", "매일 아침"), ("every evening", "매일 저녁"),
                ("on weekends", "주말마다"), ("every sunday", "일요일마다")],
    "future": [("tomorrow", "내일"), ("next week", "다음 주에"), ("tonight", "오늘 밤에"),
               ("this weekend", "이번 주말에"), ("next year", "내년에")],
}
NOW = ("now", "지금")  # only with the location type ("I am on the subway now")

# English order of adjectives (opinion, size, age, colour); Korean keeps the same order
ADJ_RANK = {**{a: 1 for a in ("big", "small", "long", "short")}, **{a: 2 for a in ("new", "old", "young")},
            **{a: 3 for a in ("red", "blue", "black", "white")}}
OPPOSITES = [{"big", "small"}, {"new", "old"}, {"cheap", "expensive"}, {"long", "short"},
             {"black", "white"}, {"red", "blue"}, {"red", "black"}, {"red", "white"}, {"blue", "black"},
             {"blue", "white"}, {"happy", "sad"}, {"happy", "tired"}, {"quiet", "crowded"},
             {"funny", "sad"}]
