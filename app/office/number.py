"""Office pages: the custom SMS number (choose an area code, provision once).

GET  /settings/number           suggestions, the area-code search and its results
                                (the results are the `#number-search` fragment for htmx);
                                once the number exists, a read-only card.
GET  /settings/number/confirm   the honest warning for one chosen number.
POST /settings/number           buys it: the only web request that writes a PhoneNumber.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_htmx import make_response
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Length, Optional

from app.auth.access import manager_required
from app.auth.forms import show_domain_error
from app.extensions import htmx
from app.office import bp
from app.services import numbers
from app.services.customer_imports import company_has_imported
from app.services.errors import DomainError
from app.services.phones import format_phone


class AreaCodeForm(FlaskForm):
    """The search box: a GET form, so a search is a link that can be reloaded or shared."""

    class Meta:
        csrf = False

    area_code = StringField(
        "Area code",
        validators=[Optional(), Length(max=5)],
        render_kw={
            "inputmode": "numeric",
            "autocomplete": "off",
            "maxlength": "3",
            "pattern": "[2-9][0-9]{2}",
            "placeholder": "512",
        },
    )


class ConfirmNumberForm(FlaskForm):
    phone_number = HiddenField(validators=[DataRequired(message="Choose a number first.")])
    locality = HiddenField(validators=[Optional(), Length(max=120)])
    region = HiddenField(validators=[Optional(), Length(max=64)])
    area_code = HiddenField(validators=[Optional(), Length(max=5)])
    understood = BooleanField(
        "I understand this number cannot be changed later.",
        validators=[
            DataRequired(message="Tick the box to confirm you understand it can't be changed.")
        ],
    )


def _search_context(form: AreaCodeForm) -> dict:
    """Run the search the form asks for; a bad area code becomes a field error."""
    search = None
    if form.area_code.data and form.validate():
        # A search writes nothing (it runs on a GET): no transaction to commit or roll back.
        try:
            search = numbers.search_numbers(area_code=form.area_code.data)
        except DomainError as error:
            show_domain_error(form, error)
    return {"form": form, "search": search}


def _page(status: int = 200, *, problem: str | None = None):
    company = current_user.company
    number = numbers.company_number(company)
    if number is not None:
        profile_url = (
            url_for("office.company_profile")
            if "office.company_profile" in current_app.view_functions
            else None
        )
        return (
            render_template(
                "office/number.html", number=number, problem=problem, profile_url=profile_url
            ),
            status,
        )
    setup = numbers.pending_setup(company)
    suggestions = numbers.suggest_area_codes(company=company)
    form = AreaCodeForm(request.args)
    context = _search_context(form) if setup is None else {"form": form, "search": None}
    if not form.area_code.data:
        # Pre-filled, not searched: the person sees the suggestion and decides.
        form.area_code.data = suggestions.best
    return (
        render_template(
            "office/number.html",
            number=None,
            setup=setup,
            setup_is_stale=setup is not None and numbers.is_stale(setup),
            suggestions=suggestions,
            # Onboarding: the suggestion is only as good as the customers it counts.
            imported=company_has_imported(company=company),
            problem=problem,
            **context,
        ),
        status,
    )


@bp.route("/settings/number", methods=["GET", "POST"])
@manager_required
def number_setup():
    if request.method == "POST":
        return _provision()
    if htmx and htmx.target == "number-search":
        company = current_user.company
        if numbers.company_number(company) or numbers.pending_setup(company):
            # Bought or being bought from another tab meanwhile: show the whole page.
            return make_response("", 200, redirect=url_for("office.number_setup"))
        form = AreaCodeForm(request.args)
        return render_template("office/_number_search.html", **_search_context(form))
    return _page()


@bp.get("/settings/number/confirm")
@manager_required
def number_confirm():
    company = current_user.company
    if numbers.company_number(company) is not None or numbers.pending_setup(company) is not None:
        return redirect(url_for("office.number_setup"))
    form = ConfirmNumberForm(request.args, meta={"csrf": False})
    # A check of the link's number on a GET: nothing written, so nothing to commit or roll back.
    try:
        chosen = numbers.check_chosen_number(form.phone_number.data)
    except DomainError as error:
        flash(error.message, "error")
        return redirect(url_for("office.number_setup", area_code=form.area_code.data or None))
    return _confirm_page(ConfirmNumberForm(formdata=None, data=_form_data(form, chosen)), chosen)


def _form_data(form: ConfirmNumberForm, chosen: str) -> dict:
    return {
        "phone_number": chosen,
        "locality": (form.locality.data or "")[:120],
        "region": (form.region.data or "")[:64],
        "area_code": (form.area_code.data or "")[:5],
    }


def _confirm_page(form: ConfirmNumberForm, chosen: str, status: int = 200):
    return (
        render_template(
            "office/number_confirm.html",
            form=form,
            chosen=chosen,
            business_phone=current_user.company.business_phone,
        ),
        status,
    )


def _provision():
    existing = numbers.company_number(current_user.company)
    if existing is not None:
        # Said before looking at the form: whatever was posted, the answer is the same.
        return _page(409, problem=numbers.NumberAlreadySet(existing).message)
    form = ConfirmNumberForm()
    if not form.validate():
        # Only a check (nothing written yet): which page comes back depends on it.
        try:
            chosen = numbers.check_chosen_number(form.phone_number.data)
        except DomainError as error:
            return _page(400, problem=error.message)
        return _confirm_page(form, chosen, status=400)
    # Not service_call: provision_number commits its own steps (the claim, then what Twilio
    # answered), so a refusal has nothing left to roll back and success nothing to commit.
    try:
        number = numbers.provision_number(
            company=current_user.company,
            actor=current_user,
            e164=form.phone_number.data,
            locality=form.locality.data,
            region=form.region.data,
            public_base_url=current_app.config["PUBLIC_BASE_URL"],
        )
    except numbers.PurchaseFailed as error:
        flash(error.message, "error")
        return redirect(url_for("office.number_setup", area_code=form.area_code.data or None))
    except DomainError as error:
        return _page(error.status_code, problem=error.message)
    flash(
        f"Your custom number is {format_phone(number.e164)}. "
        "Texts to your customers now come from it.",
        "success",
    )
    return redirect(url_for("office.number_setup"), code=303)
