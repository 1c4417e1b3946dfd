"""Write routes (what the box pushes) and their read-backs."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, request

from .store import EmulatorStore, Rejected


def register_writes(app: Flask, store: EmulatorStore) -> None:
    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise Rejected("Ожидался JSON-объект")
        return data

    @app.post("/webapi/grade/journal/quickedit", endpoint="quickedit")
    def quickedit() -> Response:
        return jsonify(store.quickedit(body()))

    @app.get("/webapi/grade/journal/edit", endpoint="lesson_read")
    def lesson_read() -> Response:
        return jsonify(store.lesson(request.args.get("cmid", type=int) or 0))

    @app.post("/webapi/grade/journal/edit", endpoint="lesson_edit")
    def lesson_edit() -> Response:
        return jsonify(
            store.edit_lesson(
                request.args.get("cmid", type=int), request.args.get("sgId", type=int), body()
            )
        )

    @app.get("/webapi/grade/periodmarks", endpoint="periodmarks_read")
    def periodmarks_read() -> Response:
        return jsonify(
            store.query(
                "SELECT sg_id AS sgId, term_id AS termId, student_id AS studentId, mark,"
                " mark_type AS markType FROM period_mark WHERE sg_id = ? AND term_id = ?"
                " ORDER BY student_id",
                request.args.get("sgId", type=int),
                request.args.get("termId", type=int),
            )
        )

    @app.post("/webapi/grade/periodmarks", endpoint="periodmarks_write")
    def periodmarks_write() -> Response:
        return jsonify(store.period_mark(body()))
