"""The workspace's words in Korean and English, and which language a request gets.

A small dict catalogue: every key exists in every language (a test checks it). The language is
the ``?lang=`` of the request, else the ``lang`` cookie, else the browser's Accept-Language, else
the city's own language (Korean for Seoul).
"""

from __future__ import annotations

from fastapi import Request

LANG_COOKIE = "lang"
LANGUAGES = ("ko", "en")
# The language of each packaged city; a city folder elsewhere gets English.
CITY_LANGUAGES = {"seoul": "ko"}

CATALOGUES: dict[str, dict[str, str]] = {
    "ko": {
        "app.name": "citytrace 역학조사",
        "nav.skip": "본문으로 건너뛰기",
        "nav.cases": "확진자 목록",
        "nav.new_case": "확진자 등록",
        "nav.contacts_due": "접촉자 관리",
        "nav.outbreak": "유행 현황",
        "outbreak.title": "유행 현황",
        "outbreak.intro": "집계만 보입니다. 확진자, 사람, 장소는 나오지 않습니다.",
        "outbreak.curve_confirmed": "일별 확진자 (확진일 기준)",
        "outbreak.curve_onset": "일별 확진자 (증상 발현일 기준)",
        "outbreak.switch_confirmed": "증상 발현일 기준으로 보기",
        "outbreak.switch_onset": "확진일 기준으로 보기",
        "outbreak.curve_desc": "{first}부터 {last}까지 하루 최대 {top}명. 선은 7일 평균입니다.",
        "outbreak.day": "날짜",
        "outbreak.cases": "확진자",
        "outbreak.mean": "7일 평균",
        "outbreak.no_cases": "확진자가 없습니다.",
        "outbreak.csv": "CSV 내려받기",
        "outbreak.csv_all_days": "모든 날짜 CSV 내려받기",
        "outbreak.clusters": "전파로 이어진 집단",
        "outbreak.links": "전파 연결",
        "outbreak.generations": "최장 전파 단계",
        "outbreak.span": "확진 기간",
        "outbreak.districts": "자치구별",
        "outbreak.no_district": "미지정",
        "outbreak.no_clusters": "전파로 이어진 확진자가 아직 없습니다.",
        "outbreak.timeliness": "등록부터 첫 장소 공개까지",
        "outbreak.district": "자치구",
        "outbreak.all": "전체",
        "outbreak.median_hours": "중앙값 (시간)",
        "outbreak.p90_hours": "90백분위 (시간)",
        "outbreak.no_timeliness": "동선에서 공개된 장소가 아직 없습니다.",
        "due.title": "오늘 조치할 접촉자",
        "due.intro_district": (
            "{district} 확진자의 접촉자 중 조치가 필요한 사람입니다. 급한 순서입니다."
        ),
        "due.intro_all": (
            "모든 자치구 확진자의 접촉자 중 조치가 필요한 사람입니다. 급한 순서입니다."
        ),
        "due.on": "기준일: {day}.",
        "due.none": "지금 조치할 접촉자가 없습니다.",
        "due.day": "기준일 (비우면 오늘)",
        "due.show": "보기",
        "due.waiting": "{days}일 지남",
        "due.action": "조치",
        "due.since": "기한",
        "due.case": "확진자",
        "due.action.register_case": "확진자 등록",
        "due.action.notify": "통보",
        "due.action.quarantine": "격리",
        "due.action.release": "격리 해제",
        "nav.signed_in_as": "로그인: {user} ({role})",
        "nav.logout": "로그아웃",
        "nav.language": "언어",
        "login.title": "로그인",
        "login.intro": "보건소 계정으로 로그인하세요.",
        "login.username": "아이디",
        "login.password": "비밀번호",
        "login.submit": "로그인",
        "login.failed": (
            "로그인하지 못했습니다. 아이디나 비밀번호가 틀렸거나 계정이 잠시 잠겼습니다."
        ),
        "login.expired": "다시 로그인하세요. 이 양식이 만료되었습니다.",
        "login.rate_limited": "시도가 너무 많습니다. 잠시 후 다시 시도하세요.",
        "home.title": "시작",
        "home.no_cases": "이 역할로는 확진자 기록을 볼 수 없습니다.",
        "cases.title": "확진자",
        "cases.intro_district": "{district}의 확진자입니다.",
        "cases.intro_all": "모든 자치구의 확진자입니다.",
        "cases.none": "확진자가 없습니다.",
        "cases.reference": "번호",
        "cases.district": "자치구",
        "cases.status": "상태",
        "cases.confirmed": "확진일",
        "cases.onset": "증상 발현일",
        "cases.open_case": "{ref} 열기",
        "status.open": "조사 중",
        "status.closed": "종결",
        "new.title": "확진자 등록",
        "new.intro": (
            "날짜는 {tz} 기준입니다. 증상 발현일(무증상이면 검체 채취일)로 공개 기간이 정해집니다."
        ),
        "new.reference": "번호 (비우면 자동)",
        "new.district": "자치구",
        "new.confirmed": "확진일",
        "new.onset": "증상 발현일",
        "new.specimen": "검체 채취일",
        "new.isolated": "격리일",
        "new.notes": "메모",
        "new.submit": "등록",
        "new.invalid": "입력을 확인하세요: {reason}",
        "case.title": "확진자 {ref}",
        "case.summary": "요약",
        "case.window": "공개 기간",
        "case.window_value": "{start} – {end}",
        "case.window_none": "증상 발현일이나 검체 채취일이 없어 정할 수 없습니다",
        "case.notes": "메모",
        "case.contacts_link": "접촉자 조사",
        "case.links": "전파 연결",
        "case.infected_by": "감염 경로 (이 확진자가 접촉자였던 확진자)",
        "case.infected": "전파 (이 확진자의 접촉자 중 확진된 사람)",
        "case.first_contact": "첫 접촉 {at}",
        "case.chain": "전파 사슬",
        "case.chain_summary": "확진자 {cases}명, 연결 {links}건, {generations}세대",
        "case.chain_generation": "세대",
        "case.chain_case": "확진자",
        "case.chain_district": "자치구",
        "case.chain_confirmed": "확진일",
        "case.chain_infected_by": "감염 경로",
        "case.chain_more": "외 {n}명은 API(/api/cases/…/chain)에서 볼 수 있습니다",
        "evidence.title": "위치 증거",
        "evidence.none": "아직 첨부한 증거가 없습니다.",
        "evidence.file": "파일",
        "evidence.kind": "종류",
        "evidence.read": "읽은 기록",
        "evidence.rejected": "거부된 기록",
        "evidence.upload_title": "증거 올리기",
        "evidence.upload_help": (
            "구글 위치 기록(JSON), GPX, GeoLife PLT, 카드·기지국·출입명부 CSV를 "
            "올릴 수 있습니다. 종류를 비우면 내용으로 알아냅니다."
        ),
        "evidence.choose_file": "증거 파일",
        "evidence.kind_auto": "자동으로 알아내기",
        "evidence.assume_tz": "시차 표시가 없는 시각의 시간대",
        "evidence.assume_tz_none": "없음 (그런 행은 오류)",
        "evidence.submit": "올리기",
        "evidence.uploading": "올리는 중… {percent}%",
        "evidence.processing": "파일을 읽고 동선을 만드는 중…",
        "evidence.upload_failed": "올리지 못했습니다. 연결을 확인하고 다시 시도하세요.",
        "report.title": "마지막 가져오기 결과",
        "report.ok": "{name}: 기록 {read}건을 읽었고 {rejected}건을 거부했습니다.",
        "report.already": "{name}: 이미 첨부된 파일입니다. 바뀐 것이 없습니다.",
        "report.refused": "{name} 파일을 받지 않았습니다. 아무것도 저장하지 않았습니다.",
        "report.where": "위치",
        "report.reason": "이유",
        "report.severity": "구분",
        "report.error": "오류",
        "report.warning": "참고",
        "report.no_issues": "문제가 있는 행이 없습니다.",
        "route.title": "동선",
        "route.intro": (
            "증거로 제안된 방문입니다. 시각은 {tz} 기준입니다. 확인하거나, "
            "고치거나, 틀린 것은 제외하세요."
        ),
        "route.none": "동선이 없습니다. 증거를 올리면 방문이 제안됩니다.",
        "route.number": "#",
        "route.time": "시간",
        "route.place": "장소",
        "route.district": "자치구",
        "route.evidence": "증거",
        "route.confidence": "신뢰도",
        "route.status": "상태",
        "route.actions": "검토",
        "route.confirm": "확인",
        "route.reject": "제외",
        "route.edit": "수정",
        "route.unnamed": "이름 없는 장소",
        "route.edit_title": "방문 {n} 수정",
        "route.started_at": "시작 시각",
        "route.finished_at": "끝 시각",
        "route.venue_name": "장소 이름",
        "route.note": "검토 메모",
        "route.save": "저장",
        "route.map": "지도",
        "route.map_help": "번호는 동선 표의 번호입니다. 자치구 경계는 서버에서 제공합니다.",
        "route.invalid": "방문을 고치지 못했습니다: {reason}",
        "visit.proposed": "제안",
        "visit.confirmed": "확인됨",
        "visit.rejected": "제외됨",
        "visit.edited": "(수정됨)",
        "contacts.title": "{ref}의 접촉자",
        "contacts.back": "확진자 {ref}(으)로 돌아가기",
        "contacts.search_title": "노출 검색",
        "contacts.search_help": (
            "확인·제안된 방문과 시민 기록(카드, 출입명부, 기지국)을 거리와 시간으로 "
            "맞춰 봅니다. 제외한 방문은 쓰지 않습니다."
        ),
        "contacts.distance": "거리 D (미터)",
        "contacts.overlap": "최소 겹친 시간 T (분)",
        "contacts.run": "검색 실행",
        "contacts.result": "검색 결과: 접촉자 {found}명 (새로 {new}명, 갱신 {updated}명).",
        "contacts.searched_index": "메모리의 시 기록에서 {ms} ms 만에 찾았습니다.",
        "contacts.searched_duckdb": (
            "시 기록 저장소를 직접 읽어 {ms} ms 걸렸습니다 (메모리 색인을 만드는 중)."
        ),
        "contacts.search_failed": "검색하지 못했습니다: {reason}",
        "contacts.list_title": "접촉자 목록",
        "contacts.none": (
            "아직 접촉자가 없습니다. 노출 검색을 실행하세요. 시의 기록이 불러와지지 "
            "않았다면 결과가 없습니다."
        ),
        "contacts.person": "가명 번호",
        "contacts.when": "접촉 시간",
        "contacts.distance_col": "최소 거리",
        "contacts.overlap_col": "최대 겹친 시간",
        "contacts.risk": "위험도",
        "contacts.state": "상태",
        "contacts.quarantine_until": "격리 해제일",
        "contacts.change": "상태 바꾸기",
        "contacts.next_state": "다음 상태",
        "contacts.test_result": "검사 결과",
        "contacts.test_none": "해당 없음",
        "contacts.note": "메모",
        "contacts.override": "조기 해제 사유",
        "contacts.apply": "적용",
        "contacts.final": "더 바꿀 상태가 없습니다.",
        "contacts.changed": "접촉자 상태를 바꿨습니다.",
        "contacts.change_failed": "상태를 바꾸지 못했습니다: {reason}",
        "risk.close": "밀접",
        "risk.casual": "일상",
        "state.identified": "확인됨",
        "state.notified": "통보함",
        "state.tested": "검사함",
        "state.in_quarantine": "격리 중",
        "state.released": "해제",
        "test.positive": "양성",
        "test.negative": "음성",
        "test.inconclusive": "미결정",
        "error.title": "오류 {status}",
        "error.403": "이 페이지를 볼 권한이 없습니다. 이 거부는 기록되었습니다.",
        "error.404": "찾는 기록이 없습니다.",
        "error.429": "요청이 너무 많습니다. 잠시 후 다시 시도하세요.",
        "error.other": "요청을 처리하지 못했습니다.",
        "error.back": "확진자 목록으로",
        "role.administrator": "관리자",
        "role.investigator": "역학조사관",
        "role.disclosure_officer": "공개 담당",
        "role.clinic_staff": "선별진료소",
        "role.analyst": "분석가",
        "saved": "저장했습니다.",
    },
    "en": {
        "app.name": "citytrace investigation",
        "nav.skip": "Skip to content",
        "nav.cases": "Cases",
        "nav.new_case": "Register a case",
        "nav.contacts_due": "Contact follow-up",
        "nav.outbreak": "Outbreak",
        "outbreak.title": "The outbreak",
        "outbreak.intro": "Counts only: no case, person or place is shown.",
        "outbreak.curve_confirmed": "Cases a day, by confirmation",
        "outbreak.curve_onset": "Cases a day, by symptom onset",
        "outbreak.switch_confirmed": "By symptom onset instead",
        "outbreak.switch_onset": "By confirmation instead",
        "outbreak.curve_desc": (
            "From {first} to {last}, at most {top} a day. The line is the 7-day mean."
        ),
        "outbreak.day": "Day",
        "outbreak.cases": "Cases",
        "outbreak.mean": "7-day mean",
        "outbreak.no_cases": "No cases.",
        "outbreak.csv": "Download as CSV",
        "outbreak.csv_all_days": "Every day as CSV",
        "outbreak.clusters": "Clusters linked by transmission",
        "outbreak.links": "Links",
        "outbreak.generations": "Longest chain",
        "outbreak.span": "Confirmed",
        "outbreak.districts": "By district",
        "outbreak.no_district": "none",
        "outbreak.no_clusters": "No cases are linked by transmission yet.",
        "outbreak.timeliness": "From registration to the first published place",
        "outbreak.district": "District",
        "outbreak.all": "All",
        "outbreak.median_hours": "Median (hours)",
        "outbreak.p90_hours": "90th percentile (hours)",
        "outbreak.no_timeliness": "No place has been published from a route yet.",
        "due.title": "Contacts to act on",
        "due.intro_district": (
            "Contacts of {district}'s cases that need an action, most urgent first."
        ),
        "due.intro_all": (
            "Contacts of every district's cases that need an action, most urgent first."
        ),
        "due.on": "On {day}.",
        "due.none": "No contact needs an action now.",
        "due.day": "Day (empty: today)",
        "due.show": "Show",
        "due.waiting": "{days} d overdue",
        "due.action": "Action",
        "due.since": "Due since",
        "due.case": "Case",
        "due.action.register_case": "register a case",
        "due.action.notify": "notify",
        "due.action.quarantine": "quarantine",
        "due.action.release": "release",
        "nav.signed_in_as": "Signed in: {user} ({role})",
        "nav.logout": "Sign out",
        "nav.language": "Language",
        "login.title": "Sign in",
        "login.intro": "Sign in with your health centre account.",
        "login.username": "Username",
        "login.password": "Password",
        "login.submit": "Sign in",
        "login.failed": (
            "Could not sign in: wrong username or password, or the account is locked for a while."
        ),
        "login.expired": "Please sign in again: this form had expired.",
        "login.rate_limited": "Too many attempts. Try again in a little while.",
        "home.title": "Start",
        "home.no_cases": "Your role does not give access to case records.",
        "cases.title": "Cases",
        "cases.intro_district": "Confirmed cases of {district}.",
        "cases.intro_all": "Confirmed cases of all districts.",
        "cases.none": "There are no cases.",
        "cases.reference": "Reference",
        "cases.district": "District",
        "cases.status": "Status",
        "cases.confirmed": "Confirmed",
        "cases.onset": "Symptom onset",
        "cases.open_case": "Open {ref}",
        "status.open": "open",
        "status.closed": "closed",
        "new.title": "Register a case",
        "new.intro": (
            "Dates are in {tz}. Symptom onset (or, without symptoms, specimen "
            "collection) sets the disclosure window."
        ),
        "new.reference": "Reference (empty: assigned)",
        "new.district": "District",
        "new.confirmed": "Confirmed on",
        "new.onset": "Symptom onset",
        "new.specimen": "Specimen collected",
        "new.isolated": "Isolated on",
        "new.notes": "Notes",
        "new.submit": "Register",
        "new.invalid": "Please check the form: {reason}",
        "case.title": "Case {ref}",
        "case.summary": "Summary",
        "case.window": "Disclosure window",
        "case.window_value": "{start} – {end}",
        "case.window_none": "not known without symptom onset or specimen date",
        "case.notes": "Notes",
        "case.contacts_link": "Contacts",
        "case.links": "Transmission",
        "case.infected_by": "Infected by (cases this one was a contact of)",
        "case.infected": "Infected (its contacts confirmed afterwards)",
        "case.first_contact": "first contact {at}",
        "case.chain": "Transmission chain",
        "case.chain_summary": "{cases} cases, {links} links, {generations} generations",
        "case.chain_generation": "Generation",
        "case.chain_case": "Case",
        "case.chain_district": "District",
        "case.chain_confirmed": "Confirmed",
        "case.chain_infected_by": "May have been infected by",
        "case.chain_more": "{n} more cases in the API (/api/cases/…/chain)",
        "evidence.title": "Location evidence",
        "evidence.none": "No evidence attached yet.",
        "evidence.file": "File",
        "evidence.kind": "Kind",
        "evidence.read": "Records read",
        "evidence.rejected": "Rejected",
        "evidence.upload_title": "Upload evidence",
        "evidence.upload_help": (
            "Google location history (JSON), GPX, GeoLife PLT, and card, cell or "
            "check-in CSV. Leave the kind empty to detect it from the content."
        ),
        "evidence.choose_file": "Evidence file",
        "evidence.kind_auto": "Detect from the content",
        "evidence.assume_tz": "Time zone of times without an offset",
        "evidence.assume_tz_none": "None (such rows are errors)",
        "evidence.submit": "Upload",
        "evidence.uploading": "Uploading… {percent}%",
        "evidence.processing": "Reading the file and building the route…",
        "evidence.upload_failed": "The upload failed. Check the connection and try again.",
        "report.title": "Result of the last import",
        "report.ok": "{name}: read {read} records, rejected {rejected}.",
        "report.already": "{name}: this file was attached already; nothing changed.",
        "report.refused": "{name} was refused; nothing was stored.",
        "report.where": "Where",
        "report.reason": "Reason",
        "report.severity": "Kind",
        "report.error": "error",
        "report.warning": "note",
        "report.no_issues": "No row had a problem.",
        "route.title": "Route",
        "route.intro": (
            "Visits proposed from the evidence, times in {tz}. Confirm them, "
            "correct them, or reject the wrong ones."
        ),
        "route.none": "No route yet: upload evidence and visits will be proposed.",
        "route.number": "#",
        "route.time": "Time",
        "route.place": "Place",
        "route.district": "District",
        "route.evidence": "Evidence",
        "route.confidence": "Confidence",
        "route.status": "Status",
        "route.actions": "Review",
        "route.confirm": "Confirm",
        "route.reject": "Reject",
        "route.edit": "Edit",
        "route.unnamed": "unnamed place",
        "route.edit_title": "Edit visit {n}",
        "route.started_at": "Started at",
        "route.finished_at": "Finished at",
        "route.venue_name": "Place name",
        "route.note": "Review note",
        "route.save": "Save",
        "route.map": "Map",
        "route.map_help": (
            "Numbers are those of the route table. District outlines come from this server."
        ),
        "route.invalid": "The visit was not changed: {reason}",
        "visit.proposed": "proposed",
        "visit.confirmed": "confirmed",
        "visit.rejected": "rejected",
        "visit.edited": "(edited)",
        "contacts.title": "Contacts of {ref}",
        "contacts.back": "Back to case {ref}",
        "contacts.search_title": "Exposure search",
        "contacts.search_help": (
            "Matches the confirmed and proposed visits with the city's records "
            "(card, check-in, cell) in distance and time. Rejected visits are left "
            "out."
        ),
        "contacts.distance": "Distance D (metres)",
        "contacts.overlap": "Minimum overlap T (minutes)",
        "contacts.run": "Run the search",
        "contacts.result": "Search done: {found} contacts ({new} new, {updated} updated).",
        "contacts.searched_index": "The city's records in memory answered in {ms} ms.",
        "contacts.searched_duckdb": (
            "Read from the record store in {ms} ms (the index in memory is being built)."
        ),
        "contacts.search_failed": "The search did not run: {reason}",
        "contacts.list_title": "Contact list",
        "contacts.none": (
            "No contacts yet. Run the exposure search; without the city's records "
            "loaded it finds none."
        ),
        "contacts.person": "Pseudonym",
        "contacts.when": "Contact time",
        "contacts.distance_col": "Closest",
        "contacts.overlap_col": "Longest overlap",
        "contacts.risk": "Risk",
        "contacts.state": "State",
        "contacts.quarantine_until": "Quarantine until",
        "contacts.change": "Change state",
        "contacts.next_state": "Next state",
        "contacts.test_result": "Test result",
        "contacts.test_none": "not applicable",
        "contacts.note": "Note",
        "contacts.override": "Reason for early release",
        "contacts.apply": "Apply",
        "contacts.final": "No further state.",
        "contacts.changed": "The contact's state was changed.",
        "contacts.change_failed": "The state was not changed: {reason}",
        "risk.close": "close",
        "risk.casual": "casual",
        "state.identified": "identified",
        "state.notified": "notified",
        "state.tested": "tested",
        "state.in_quarantine": "in quarantine",
        "state.released": "released",
        "test.positive": "positive",
        "test.negative": "negative",
        "test.inconclusive": "inconclusive",
        "error.title": "Error {status}",
        "error.403": "You may not open this page. The refusal has been recorded.",
        "error.404": "The record you asked for does not exist.",
        "error.429": "Too many requests. Try again in a little while.",
        "error.other": "The request could not be done.",
        "error.back": "To the cases",
        "role.administrator": "administrator",
        "role.investigator": "investigator",
        "role.disclosure_officer": "disclosure officer",
        "role.clinic_staff": "clinic staff",
        "role.analyst": "analyst",
        "saved": "Saved.",
    },
}


def default_language(city: str) -> str:
    """The city's own language: Korean for Seoul, English for a city we know nothing of."""
    return CITY_LANGUAGES.get(city, "en")


def _from_accept_language(header: str) -> str | None:
    """The first supported language of an Accept-Language header, by its q-values."""
    choices: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, position, primary))
    return min(choices)[2] if choices else None


def negotiate(request: Request, city: str) -> str:
    """The language of this request (see the module's docstring for the order)."""
    for value in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if value in LANGUAGES:
            return str(value)
    accepted = _from_accept_language(request.headers.get("accept-language", ""))
    return accepted or default_language(city)


def _merge_domain_messages() -> None:
    # Each domain with pages keeps its own words beside its code (``<domain>/messages.py``).
    from citytrace.disclosure import messages, public_messages
    from citytrace.screening import messages as screening_messages

    for catalogue in (messages.MESSAGES, public_messages.MESSAGES, screening_messages.MESSAGES):
        for lang, words in catalogue.items():
            clashes = CATALOGUES[lang].keys() & words.keys()
            if clashes:
                raise RuntimeError(f"message keys defined twice: {sorted(clashes)}")
            CATALOGUES[lang].update(words)


_merge_domain_messages()


class Translator:
    """``t("key", name=value)``: the message of ``key`` in one language, filled in."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.messages = CATALOGUES[lang]

    def __call__(self, key: str, **values: object) -> str:
        message = self.messages.get(key) or CATALOGUES["en"].get(key, key)
        return message.format(**values) if values else message
