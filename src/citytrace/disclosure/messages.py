"""Words of the disclosure officer's pages in Korean and English; merged into the workspace's
catalogue. Every key starts with ``disclosure.``."""

MESSAGES: dict[str, dict[str, str]] = {
    "ko": {
        "disclosure.nav": "동선 공개",
        "disclosure.title": "동선 공개 준비",
        "disclosure.intro": (
            "확진자 동선에서 만든 장소 목록입니다. 확진자 번호, 개인 순서, 거주지는 나오지 "
            "않습니다. 재식별 위험이 큰 항목은 일반화하거나 사유를 남겨야 게시할 수 있습니다."
        ),
        "disclosure.view.open": "준비 중",
        "disclosure.view.published": "게시됨",
        "disclosure.view.ended": "종료됨",
        "disclosure.views": "목록 보기",
        "disclosure.draft_title": "동선에서 초안 만들기",
        "disclosure.draft_help": (
            "확진자 번호를 입력하세요. 공개 기간 안의 확인된 방문만 초안이 됩니다."
        ),
        "disclosure.case_reference": "확진자 번호",
        "disclosure.draft_submit": "초안 만들기",
        "disclosure.risk_title": "목록 전체의 위험",
        "disclosure.risk_summary": (
            "항목 {entries}개: 차단 {blocked}, 경고 {warnings}, k 최솟값 {min_k}, "
            "인구 자료 없음 {unknown_k}, 혼자서 동선이 되는 확진자 {linkable}명"
        ),
        "disclosure.risk_check": "위험 다시 계산",
        "disclosure.none": "항목이 없습니다.",
        "disclosure.col.district": "자치구",
        "disclosure.col.kind": "장소 유형",
        "disclosure.col.name": "상호",
        "disclosure.col.address": "도로명 주소",
        "disclosure.col.window": "노출 일시",
        "disclosure.col.status": "상태",
        "disclosure.col.risk": "위험",
        "disclosure.col.reason": "사유",
        "disclosure.col.expires": "삭제 예정",
        "disclosure.open_entry": "항목 {id} 열기",
        "disclosure.status.draft": "초안",
        "disclosure.status.approved": "승인됨",
        "disclosure.status.published": "게시됨",
        "disclosure.status.withdrawn": "철회됨",
        "disclosure.status.expired": "기간 만료",
        "disclosure.status.suppressed": "비공개(접촉자 모두 확인)",
        "disclosure.level.ok": "낮음",
        "disclosure.level.warning": "경고",
        "disclosure.level.blocked": "차단",
        "disclosure.reason.low_k": (
            "이 시간대에 이곳 주변에 있던 사람이 기록상 {k}명뿐입니다(최소 {min_k}명). 시간을 "
            "넓히거나 상호를 빼거나 자치구만 표시하세요. 또는 사유를 남기세요."
        ),
        "disclosure.reason.no_population": (
            "인구 자료가 없어 주변 인원을 알 수 없습니다. 게시하려면 사유를 남겨야 합니다."
        ),
        "disclosure.reason.linkable": (
            "한 확진자만의 항목이 {points}개입니다. 합치면 한 사람의 동선이 되며, 장소·시간 "
            "{limit}개면 95%가 식별됩니다(de Montjoye 외 2013)."
        ),
        "disclosure.reason.unique_fields": (
            "방문자가 적은 곳({k}명)에서 상호와 {window_min}분의 짧은 시간은 방문자를 특정할 "
            "수 있습니다."
        ),
        "disclosure.reason.overridden": "위험에도 사유를 남기고 게시를 허용했습니다.",
        "disclosure.no_k": "모름",
        "disclosure.notice.drafted": "초안을 만들었습니다.",
        "disclosure.notice.approved": "승인했습니다.",
        "disclosure.notice.published": "게시했습니다.",
        "disclosure.notice.checked": "위험을 다시 계산했습니다.",
        "disclosure.notice.discarded": "초안을 버렸습니다.",
        "disclosure.notice.saved": "저장했습니다.",
        "disclosure.notice.overridden": "사유를 기록했습니다.",
        "disclosure.notice.corrected": "정정을 게시했습니다.",
        "disclosure.notice.withdrawn": "철회했습니다.",
        "disclosure.entry_title": "공개 항목 {id}",
        "disclosure.back": "목록으로",
        "disclosure.shown_title": "공개될 내용",
        "disclosure.sources": "{cases}명의 확진자 방문 {sources}건에서 (공개되지 않음)",
        "disclosure.version": "판",
        "disclosure.disinfected": "소독",
        "disclosure.disinfected.yes": "완료",
        "disclosure.disinfected.no": "미완료",
        "disclosure.disinfected.none": "7일이 지나 불필요",
        "disclosure.notes": "비고",
        "disclosure.transport": "대중교통",
        "disclosure.transport_line": "노선",
        "disclosure.transport_car": "호차",
        "disclosure.boarding": "승차",
        "disclosure.alighting": "하차",
        "disclosure.correction": "정정",
        "disclosure.withdrawal": "철회 사유",
        "disclosure.override_recorded": "게시 허용 사유",
        "disclosure.edit_title": "수정과 일반화",
        "disclosure.edit_help": (
            "시간 단위를 넓히거나, 상호를 빼거나, 자치구만 표시하면 위험이 낮아집니다."
        ),
        "disclosure.time_step": "시간 단위(분)",
        "disclosure.precision": "위치 표시",
        "disclosure.precision.place": "장소",
        "disclosure.precision.district": "자치구만",
        "disclosure.show_name": "상호 표시",
        "disclosure.mass_exposure": "불특정 다수 노출 가능(직장도 공개)",
        "disclosure.correction_note": "정정 내용(게시된 항목)",
        "disclosure.save": "저장",
        "disclosure.override_title": "사유를 남기고 게시 허용",
        "disclosure.justification": "사유(10자 이상)",
        "disclosure.override_submit": "사유 기록",
        "disclosure.steps_title": "승인과 게시",
        "disclosure.approve": "승인",
        "disclosure.publish": "게시",
        "disclosure.withdraw_reason": "철회 사유",
        "disclosure.withdraw": "철회",
        "disclosure.discard": "초안 버리기",
        "disclosure.workplace_rule": "직장은 불특정 다수 노출 가능으로 표시해야 게시됩니다.",
    },
    "en": {
        "disclosure.nav": "Disclosure",
        "disclosure.title": "Preparing the public place list",
        "disclosure.intro": (
            "Places drawn from the routes of confirmed cases. No case number, no per-person "
            "order, no residence. Entries at risk of singling someone out are published only once "
            "generalised or with a recorded justification."
        ),
        "disclosure.view.open": "In preparation",
        "disclosure.view.published": "Published",
        "disclosure.view.ended": "Ended",
        "disclosure.views": "Show",
        "disclosure.draft_title": "Draft from a route",
        "disclosure.draft_help": (
            "Enter a case reference. Only its confirmed visits inside the disclosure window are "
            "drafted."
        ),
        "disclosure.case_reference": "Case reference",
        "disclosure.draft_submit": "Draft",
        "disclosure.risk_title": "Risk of the whole list",
        "disclosure.risk_summary": (
            "{entries} entries: {blocked} blocked, {warnings} with warnings, smallest k {min_k}, "
            "{unknown_k} without population data, {linkable} cases traceable through their own "
            "entries"
        ),
        "disclosure.risk_check": "Check the risk again",
        "disclosure.none": "No entries.",
        "disclosure.col.district": "District",
        "disclosure.col.kind": "Kind of place",
        "disclosure.col.name": "Business",
        "disclosure.col.address": "Road address",
        "disclosure.col.window": "Exposure",
        "disclosure.col.status": "Status",
        "disclosure.col.risk": "Risk",
        "disclosure.col.reason": "Reason",
        "disclosure.col.expires": "Removed at",
        "disclosure.open_entry": "Open entry {id}",
        "disclosure.status.draft": "draft",
        "disclosure.status.approved": "approved",
        "disclosure.status.published": "published",
        "disclosure.status.withdrawn": "withdrawn",
        "disclosure.status.expired": "expired",
        "disclosure.status.suppressed": "suppressed (all contacts identified)",
        "disclosure.level.ok": "low",
        "disclosure.level.warning": "warning",
        "disclosure.level.blocked": "blocked",
        "disclosure.reason.low_k": (
            "Only {k} people in the city's records were around this place in this window (at "
            "least {min_k} needed): widen the window, drop the business name or show the "
            "district only, or record a justification."
        ),
        "disclosure.reason.no_population": (
            "No population data: how many people were there is unknown; publishing needs a "
            "recorded justification."
        ),
        "disclosure.reason.linkable": (
            "{points} entries come from one case alone: together they form one person's route, "
            "and {limit} place-time points single out 95% of people (de Montjoye et al. 2013)."
        ),
        "disclosure.reason.unique_fields": (
            "A business name with a {window_min}-minute window at a place where the records show "
            "{k} people can single out a visitor."
        ),
        "disclosure.reason.overridden": (
            "Published despite the risk, with a recorded justification."
        ),
        "disclosure.no_k": "unknown",
        "disclosure.notice.drafted": "Drafted.",
        "disclosure.notice.approved": "Approved.",
        "disclosure.notice.published": "Published.",
        "disclosure.notice.checked": "Risk checked again.",
        "disclosure.notice.discarded": "Draft discarded.",
        "disclosure.notice.saved": "Saved.",
        "disclosure.notice.overridden": "Justification recorded.",
        "disclosure.notice.corrected": "Correction published.",
        "disclosure.notice.withdrawn": "Withdrawn.",
        "disclosure.entry_title": "Entry {id}",
        "disclosure.back": "Back to the list",
        "disclosure.shown_title": "What will be shown",
        "disclosure.sources": "From {sources} visits of {cases} cases (never shown)",
        "disclosure.version": "Version",
        "disclosure.disinfected": "Disinfected",
        "disclosure.disinfected.yes": "yes",
        "disclosure.disinfected.no": "not yet",
        "disclosure.disinfected.none": "not needed after 7 days",
        "disclosure.notes": "Notes",
        "disclosure.transport": "Public transport",
        "disclosure.transport_line": "Line",
        "disclosure.transport_car": "Car",
        "disclosure.boarding": "Boarding",
        "disclosure.alighting": "Alighting",
        "disclosure.correction": "Correction",
        "disclosure.withdrawal": "Reason for withdrawal",
        "disclosure.override_recorded": "Justification to publish",
        "disclosure.edit_title": "Edit and generalise",
        "disclosure.edit_help": (
            "A wider time step, no business name, or the district only lower the risk."
        ),
        "disclosure.time_step": "Time step (minutes)",
        "disclosure.precision": "Location shown",
        "disclosure.precision.place": "the place",
        "disclosure.precision.district": "the district only",
        "disclosure.show_name": "Show the business name",
        "disclosure.mass_exposure": "Possible mass exposure (publish a workplace)",
        "disclosure.correction_note": "What was corrected (published entries)",
        "disclosure.save": "Save",
        "disclosure.override_title": "Publish despite the risk",
        "disclosure.justification": "Justification (at least 10 characters)",
        "disclosure.override_submit": "Record the justification",
        "disclosure.steps_title": "Approve and publish",
        "disclosure.approve": "Approve",
        "disclosure.publish": "Publish",
        "disclosure.withdraw_reason": "Reason for withdrawal",
        "disclosure.withdraw": "Withdraw",
        "disclosure.discard": "Discard the draft",
        "disclosure.workplace_rule": (
            "A workplace is published only when a possible mass exposure is marked."
        ),
    },
}
