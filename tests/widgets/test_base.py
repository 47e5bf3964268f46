import sys

from astralytiq_jupyter.core.permissions import Permission
from astralytiq_jupyter.widgets.base import BrandHeader, Wizard, theme_of

from ..conftest import workspace_for


def test_header_shows_brand_user_tenant_and_role(store):
    admin = workspace_for(store, "acme", "ann", "admin")
    admin.tenant.update(branding={"company_name": "Acme <Co>", "primary_color": "#004488"})
    viewer = workspace_for(store, "acme", "vic", "viewer")
    theme = theme_of(viewer)
    assert theme.company_name == "Acme <Co>" and theme.primary == "#004488"
    header = BrandHeader(viewer, theme, "Explore")
    html = " ".join(child.value for child in header.children)
    assert "Acme &lt;Co&gt;" in html and "vic" in html and "acme" in html and "viewer" in html


def test_wizard_base_knows_the_role_and_links_only_inside_an_app(store):
    viewer = workspace_for(store, "acme", "vic", "viewer")
    wizard = Wizard(viewer)
    assert not wizard.can(Permission.DATASET_WRITE) and wizard.can(Permission.DATASET_READ)
    assert wizard.link("Open", "explore", ref="x") == []
    went = []
    inside = Wizard(viewer, navigate=lambda section, **kw: went.append((section, kw)), header=False)
    ((label, action),) = inside.link("Open in Explore", "explore", ref="sales@2")
    action()
    assert went == [("explore", {"ref": "sales@2"})]


def test_importing_the_widgets_stays_light():
    import subprocess

    code = (
        "import sys, astralytiq_jupyter.widgets, astralytiq_jupyter.widgets.base;"
        "heavy = [m for m in ('sklearn', 'scipy', 'statsmodels', 'skops', 'plotly')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
