from astralytiq_jupyter.widgets.theme import Theme, contrast, style_widget


def test_branding_becomes_a_theme_with_fallbacks():
    theme = Theme.from_branding(
        {"company_name": "Acme", "primary_color": "#ffcc00", "secondary_color": "bad"}, "x"
    )
    assert theme.company_name == "Acme"
    assert theme.primary == "#ffcc00"
    assert theme.secondary != "bad"
    assert Theme.from_branding({}, "Sales team").company_name == "Sales team"


def test_text_stays_readable_on_brand_colours():
    light = Theme(primary="#ffee88")
    assert light.on_primary == "#111111"
    assert contrast(light.accent_text, "#ffffff") >= 4.5
    dark = Theme(primary="#102040")
    assert dark.on_primary == "#ffffff"
    assert dark.accent_text == "#102040"


def test_stylesheet_carries_the_colours():
    theme = Theme(primary="#123456", secondary="#654321")
    html = style_widget(theme).value
    assert "#123456" in html and "#654321" in html and html.startswith("<style>")
    assert theme.colorway()[:2] == ["#123456", "#654321"]
