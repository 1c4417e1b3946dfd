"""Read routes: year, assignment types, the student diary, classes, groups, class meetings,
the teacher journal, student lists, terms and staff."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask, Response, jsonify, request

from .common import current_session, current_year, day, error
from .store import ASSIGNMENT_TYPES, ATTENDANCE_REASONS, HOMEWORK_TYPE, EmulatorStore


def register_reads(app: Flask, store: EmulatorStore) -> None:
    @app.get("/webapi/years/current", endpoint="year_current")
    def year_current() -> Response:
        year = current_year(store)
        return jsonify(
            {
                "id": year["id"],
                "name": year["name"],
                "startDate": day(year["starts"]),
                "endDate": day(year["ends"]),
            }
        )

    @app.get("/webapi/grade/assignment/types", endpoint="assignment_types")
    def assignment_types() -> Response:
        return jsonify(ASSIGNMENT_TYPES)

    @app.get("/webapi/grade/attendance/reasons", endpoint="attendance_reasons")
    def attendance_reasons() -> Response:
        return jsonify(ATTENDANCE_REASONS)

    def my_students() -> list[dict[str, Any]]:
        s = current_session()
        sql = (
            "SELECT * FROM person WHERE id = ?"
            if s["role"] == "student"
            else ("SELECT * FROM person WHERE 0 AND id = ?")
        )
        return store.query(sql, s["person_id"])

    @app.get("/webapi/student/diary/init", endpoint="diary_init")
    def diary_init() -> Response:
        today = dt.date.today()
        students = [
            {"studentId": p["id"], "nickName": p["full_name"], "classId": p["class_id"]}
            for p in my_students()
        ]
        return jsonify(
            {
                "students": students,
                "currentStudentId": 0 if students else None,
                "weekStart": day((today - dt.timedelta(days=today.weekday())).isoformat()),
                "maxMark": 5,
                "weight": True,
                "withLaAssigns": True,
            }
        )

    @app.get("/webapi/student/diary", endpoint="diary")
    def diary() -> Response:
        student_id = request.args.get("studentId", type=int)
        s = current_session()
        if s["role"] == "student" and student_id != s["person_id"]:
            return error(403, "Нет доступа к дневнику этого ученика")
        start = request.args.get("weekStart", "")[:10]
        end = request.args.get("weekEnd", "")[:10]
        meetings = store.query(
            "SELECT cm.*, g.subject_name FROM class_meeting cm"
            " JOIN subject_group g ON g.id = cm.sg_id"
            " JOIN sg_student ss ON ss.sg_id = g.id AND ss.student_id = ?"
            " WHERE cm.date BETWEEN ? AND ? ORDER BY cm.date, cm.number",
            student_id,
            start,
            end,
        )
        days: dict[str, list[dict[str, Any]]] = {}
        for cm in meetings:
            days.setdefault(cm["date"], []).append(diary_lesson(cm, student_id or 0))
        person = store.query(
            "SELECT c.name FROM person p LEFT JOIN class c ON c.id = p.class_id WHERE p.id = ?",
            student_id,
        )
        return jsonify(
            {
                "weekStart": day(start),
                "weekEnd": day(end),
                "termName": "",
                "className": person[0]["name"] if person else "",
                "weekDays": [{"date": day(d), "lessons": ls} for d, ls in days.items()],
            }
        )

    def diary_lesson(cm: dict[str, Any], student_id: int) -> dict[str, Any]:
        assignments = []
        if cm["homework"]:
            assignments.append(
                {
                    "id": -cm["id"],
                    "typeId": HOMEWORK_TYPE,
                    "assignmentName": cm["homework"],
                    "weight": 0,
                    "dueDate": day(cm["date"]),
                    "classMeetingId": cm["id"],
                }
            )
        for a in store.query(
            "SELECT a.*, m.mark, m.duty_mark FROM assignment a LEFT JOIN mark m"
            " ON m.assign_id = a.id AND m.student_id = ? WHERE a.cm_id = ?",
            student_id,
            cm["id"],
        ):
            item: dict[str, Any] = {
                "id": a["id"],
                "typeId": a["type_id"],
                "assignmentName": a["name"] or cm["theme"],
                "weight": a["weight"],
                "dueDate": day(cm["date"]),
                "classMeetingId": cm["id"],
            }
            if a["mark"] is not None:
                mark: Any = int(a["mark"]) if a["mark"].isdigit() else a["mark"]
                item["mark"] = {
                    "assignmentId": a["id"],
                    "studentId": student_id,
                    "mark": mark,
                    "dutyMark": bool(a["duty_mark"]),
                }
            assignments.append(item)
        return {
            "classmeetingId": cm["id"],
            "day": day(cm["date"]),
            "number": cm["number"],
            "room": cm["room"],
            "startTime": cm["start_time"],
            "endTime": cm["end_time"],
            "subjectName": cm["subject_name"],
            "lessonTheme": cm["theme"],
            "assignments": assignments,
        }

    @app.get("/webapi/classes", endpoint="classes")
    def classes() -> Response:
        return jsonify(store.query("SELECT id, name FROM class ORDER BY id"))

    @app.get("/webapi/subjectgroups", endpoint="subjectgroups")
    def subjectgroups() -> Response:
        class_id = request.args.get("classId", type=int)
        groups = store.query(
            "SELECT id, name, subject_name AS subjectName, class_id AS classId"
            " FROM subject_group WHERE ? IS NULL OR class_id = ? ORDER BY id",
            class_id,
            class_id,
        )
        for g in groups:
            g["studentIds"] = [
                r["student_id"]
                for r in store.query(
                    "SELECT student_id FROM sg_student WHERE sg_id = ? ORDER BY student_id", g["id"]
                )
            ]
        return jsonify(groups)

    @app.get("/webapi/schedule/classmeetings", endpoint="classmeetings")
    def classmeetings() -> Response:
        class_id = request.args.get("classId", type=int)
        rows = store.query(
            "SELECT cm.id, cm.id AS classmeetingId, cm.date, cm.number, cm.start_time AS"
            " startTime, cm.end_time AS endTime, cm.room, cm.sg_id AS subjectGroupId,"
            " g.subject_name AS subjectName, g.class_id AS classId FROM class_meeting cm"
            " JOIN subject_group g ON g.id = cm.sg_id WHERE cm.date BETWEEN ? AND ?"
            " AND (? IS NULL OR g.class_id = ?) ORDER BY cm.date, cm.number, cm.id",
            request.args.get("start", "0000")[:10],
            request.args.get("end", "9999")[:10],
            class_id,
            class_id,
        )
        for r in rows:
            r["day"] = day(r.pop("date"))
        return jsonify(rows)

    def group_students(sg_id: int | None) -> list[dict[str, Any]]:
        return store.query(
            "SELECT p.id, p.full_name AS fullName FROM sg_student ss JOIN person p"
            " ON p.id = ss.student_id WHERE ss.sg_id = ? ORDER BY p.full_name",
            sg_id,
        )

    @app.get("/webapi/grade/studentList", endpoint="student_list")
    def student_list() -> Response:
        sg_id = request.args.get("sgid", type=int) or request.args.get("sgId", type=int)
        return jsonify(group_students(sg_id))

    @app.get("/webapi/grade/terms", endpoint="terms")
    def terms() -> Response:
        return jsonify(
            [
                {
                    "id": t["id"],
                    "name": t["name"],
                    "start": day(t["starts"]),
                    "end": day(t["ends"]),
                    "closed": bool(t["closed"]),
                }
                for t in store.query("SELECT * FROM term ORDER BY starts")
            ]
        )

    @app.get("/webapi/users/staff", endpoint="staff")
    def staff() -> Response:
        return jsonify(
            store.query(
                "SELECT id, full_name AS fullName FROM person WHERE is_staff = 1 ORDER BY id"
            )
        )

    @app.get("/webapi/grade/journal", endpoint="journal")
    def journal() -> Response:
        sg_id = request.args.get("sgId", type=int)
        term_id = request.args.get("termId", type=int)
        span = store.query("SELECT starts, ends FROM term WHERE id = ?", term_id)
        starts, ends = (span[0]["starts"], span[0]["ends"]) if span else ("0000", "9999")
        meetings = store.query(
            "SELECT * FROM class_meeting WHERE sg_id = ? AND date BETWEEN ? AND ?"
            " ORDER BY date, number, id",
            sg_id,
            starts,
            ends,
        )
        marks: list[dict[str, Any]] = []
        attendance: list[dict[str, Any]] = []
        class_meeting = []
        for cm in meetings:
            assigns = store.query("SELECT * FROM assignment WHERE cm_id = ? ORDER BY id", cm["id"])
            class_meeting.append(
                {
                    "id": cm["id"],
                    "date": day(cm["date"]),
                    "theme": cm["theme"],
                    "homework": cm["homework"],
                    "assignments": [
                        {
                            "id": a["id"],
                            "typeId": a["type_id"],
                            "weight": a["weight"],
                            "dueDate": day(cm["date"]),
                        }
                        for a in assigns
                    ],
                }
            )
            for a in assigns:
                marks += [
                    {
                        "studentId": m["student_id"],
                        "assignmentId": a["id"],
                        "mark": m["mark"],
                        "dutyMark": bool(m["duty_mark"]),
                    }
                    for m in store.query("SELECT * FROM mark WHERE assign_id = ?", a["id"])
                ]
            attendance += [
                {"classmeetingId": cm["id"], "studentId": r["student_id"], "reason": r["reason"]}
                for r in store.query("SELECT * FROM attendance WHERE cm_id = ?", cm["id"])
            ]
        closed = bool(
            span and store.query("SELECT closed FROM term WHERE id = ?", term_id)[0]["closed"]
        )
        return jsonify(
            {
                "journals": [
                    {
                        "students": group_students(sg_id),
                        "classMeeting": class_meeting,
                        "marks": marks,
                        "attendance": attendance,
                    }
                ],
                "editLimit": {"readOnly": closed, "limitPastEdit": False, "limitPastDays": 0},
                "markSettings": {"minMark": 1, "maxMark": 5, "useWeight": True},
            }
        )
