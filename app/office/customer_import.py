"""Office pages: import customers from a CSV (owner/admin), and export them.

GET/POST /customers/import                    upload a file; past imports
GET      /customers/import/<id>               the import: its columns to map, the dry run,
                                              the progress, or the result with its undo
POST     /customers/import/<id>/mapping       keep the mapping and run the dry run
GET      /customers/import/<id>/problems.csv  the rows that would be skipped, with why
POST     /customers/import/<id>/confirm       import (here, or in the worker if large)
GET      /customers/import/<id>/progress      the progress bar (htmx polls it)
POST     /customers/import/<id>/undo          undo, within 24 hours
GET      /customers/export.csv                every customer as CSV
"""

from __future__ import annotations

from flask import (
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge

from app.actions import service_call
from app.auth.access import manager_required
from app.extensions import htmx
from app.models import CustomerImport, ImportStatus, utcnow
from app.office import bp
from app.request_limits import accepts_upload
from app.services import customer_import_undo as undo
from app.services import customer_imports as imports
from app.services.customer_export import export_customers_csv
from app.services.customer_files import (
    DELIMITER_LABELS,
    ENCODING_LABELS,
    FIELDS,
    MAX_BYTES,
    MAX_ROWS,
)
from app.tenancy import get_or_404


class ImportUploadForm(FlaskForm):
    file = FileField(
        "Your customers file (.csv)",
        validators=[FileRequired(message="Choose the CSV file to import.")],
        render_kw={"accept": ".csv,.txt,.tsv,text/csv,text/plain"},
        description=(
            f"A CSV file, up to {MAX_BYTES // 1024 // 1024} MB and {MAX_ROWS:,} customers, "
            "with the column names in the first row. From Excel or Numbers: save as CSV "
            "(an .xlsx workbook must be saved as CSV first)."
        ),
    )


class ImportStepForm(FlaskForm):
    """The mapping, confirm and undo forms: only the CSRF token is a WTForms field."""


def _csv_response(chunks, filename: str) -> Response:
    return Response(
        stream_with_context(chunks),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.route("/customers/import", methods=["GET", "POST"])
@accepts_upload(MAX_BYTES)
@manager_required
def customer_import_start():
    try:
        form = ImportUploadForm()
        submitted = form.validate_on_submit()
    except RequestEntityTooLarge:
        form = ImportUploadForm(formdata=None)
        form.file.errors = [
            f"This file is larger than {MAX_BYTES // 1024 // 1024} MB. Split it into smaller files."
        ]
        submitted = False
    if submitted:
        upload = form.file.data
        with service_call(form) as call:
            customer_import = imports.start_import(
                company=current_user.company,
                actor=current_user,
                filename=upload.filename or "customers.csv",
                data=upload.read(MAX_BYTES + 1),
            )
        if call.ok:
            return redirect(
                url_for("office.customer_import_show", import_id=customer_import.id), code=303
            )
    status = 422 if form.errors else 200
    return (
        render_template(
            "office/customer_import.html",
            form=form,
            imports=imports.company_imports(company=current_user.company),
        ),
        status,
    )


def _show(
    customer_import: CustomerImport,
    *,
    problem: str | None = None,
    status: int = 200,
    mapping: list[str] | None = None,
):
    now = utcnow()
    context = {
        "imp": customer_import,
        "mapping": mapping or customer_import.mapping,
        "form": ImportStepForm(),
        "problem": problem,
        "fields": FIELDS,
        "encoding_label": ENCODING_LABELS.get(customer_import.encoding),
        "delimiter_label": DELIMITER_LABELS.get(customer_import.delimiter),
        "can_undo": undo.can_undo(customer_import, now=now),
        "S": ImportStatus,
    }
    if customer_import.status == ImportStatus.EXPIRED:
        return render_template("office/customer_import_detail.html", **context), status
    remap = customer_import.status == ImportStatus.UPLOADED or (
        customer_import.status == ImportStatus.REVIEWED and request.args.get("step") == "map"
    )
    if remap or mapping is not None:
        context["preview"] = imports.preview_rows(customer_import=customer_import)
        context["mapping_step"] = True
    return render_template("office/customer_import_detail.html", **context), status


@bp.get("/customers/import/<int:import_id>")
@manager_required
def customer_import_show(import_id: int):
    return _show(get_or_404(CustomerImport, import_id))


@bp.post("/customers/import/<int:import_id>/mapping")
@manager_required
def customer_import_mapping(import_id: int):
    customer_import = get_or_404(CustomerImport, import_id)
    form = ImportStepForm()
    if not form.validate_on_submit():
        return _show(customer_import, problem="The form expired: choose again.", status=400)
    mapping = [request.form.get(f"column-{i}", "") for i in range(len(customer_import.header))]
    with service_call(refresh=(customer_import,)) as call:
        imports.review_import(customer_import=customer_import, mapping=mapping)
    if not call.ok:
        # Shown again as chosen, with the problem.
        return _show(customer_import, problem=call.message, status=422, mapping=mapping)
    return redirect(url_for("office.customer_import_show", import_id=import_id), code=303)


@bp.get("/customers/import/<int:import_id>/problems.csv")
@manager_required
def customer_import_problems(import_id: int):
    customer_import = get_or_404(CustomerImport, import_id)
    if customer_import.content is None:
        flash("This import's file is no longer kept.", "error")
        return redirect(url_for("office.customer_import_show", import_id=import_id))
    return _csv_response(
        imports.problems_csv(customer_import=customer_import),
        f"import-{customer_import.id}-problems.csv",
    )


@bp.post("/customers/import/<int:import_id>/confirm")
@manager_required
def customer_import_confirm(import_id: int):
    customer_import = get_or_404(CustomerImport, import_id)
    if not ImportStepForm().validate_on_submit():
        return _show(customer_import, problem="The form expired: confirm again.", status=400)
    with service_call(refresh=(customer_import,)) as call:
        imports.confirm_import(
            customer_import=customer_import,
            actor=current_user,
            now=utcnow(),
            inline_row_limit=current_app.config["IMPORT_INLINE_ROWS"],
        )
    if not call.ok:
        return _show(customer_import, problem=call.message, status=409)
    if customer_import.status == ImportStatus.DONE:
        flash(
            f"Imported: {customer_import.created_count:,} new, "
            f"{customer_import.merged_count:,} merged, "
            f"{customer_import.skipped_count:,} skipped. Nobody was texted.",
            "success",
        )
    return redirect(url_for("office.customer_import_show", import_id=import_id), code=303)


@bp.get("/customers/import/<int:import_id>/progress")
@manager_required
def customer_import_progress(import_id: int):
    customer_import = get_or_404(CustomerImport, import_id)
    show_url = url_for("office.customer_import_show", import_id=import_id)
    if not htmx:
        return redirect(show_url)
    if customer_import.status not in ImportStatus.PENDING:
        # Finished (or failed): the whole page changes, not just the bar.
        return "", 200, {"HX-Redirect": show_url}
    return render_template("office/_import_progress.html", imp=customer_import)


@bp.post("/customers/import/<int:import_id>/undo")
@manager_required
def customer_import_undo(import_id: int):
    customer_import = get_or_404(CustomerImport, import_id)
    if not ImportStepForm().validate_on_submit():
        return _show(customer_import, problem="The form expired: try again.", status=400)
    with service_call(refresh=(customer_import,)) as call:
        report = undo.undo_import(customer_import=customer_import, actor=current_user, now=utcnow())
    if not call.ok:
        return _show(customer_import, problem=call.message, status=409)
    removed, restored = report["removed"], report["restored"]
    flash(
        f"Import undone: {removed:,} customer{'s' if removed != 1 else ''} removed, "
        f"{restored:,} merged customer{'s' if restored != 1 else ''} restored.",
        "success",
    )
    return redirect(url_for("office.customer_import_show", import_id=import_id), code=303)


@bp.get("/customers/export.csv")
@manager_required
def customers_export():
    company = current_user.company
    return _csv_response(
        export_customers_csv(company=company),
        f"customers-{utcnow().astimezone(company.tz).date().isoformat()}.csv",
    )
