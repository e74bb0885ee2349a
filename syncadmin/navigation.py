"""The navigation bar: ERP tables and the Dynamics 365 Sales pages, as a BC admin looks for them.

Entries name URL patterns; an entry whose page is not installed is left out, so an app adds its
pages to the menu just by defining the URL name.
"""

from django.urls import NoReverseMatch, reverse

from syncadmin.pages import sites

INTEGRATION_MENU = [
    ("Connection Setup", "mappings:connection"),
    ("Integration Table Mappings", "mappings:tablemapping_list"),
    ("Transformation Rules", "mappings:transformationrule_list"),
    None,
    ("Couplings", "couplings:coupling_list"),
    ("Integration Synchronization Jobs", "couplings:syncjob_list"),
    ("Integration Synchronization Errors", "couplings:syncerror_list"),
    ("Coupled Data Synchronization Errors", "couplings:skipped_list"),
    ("Job Queue Entries", "couplings:jobqueue_list"),
    None,
    ("CRM records (embedded CRM)", "crm_emulator:browse"),
]


def _resolve(entries):
    items = []
    for entry in entries:
        if entry is None:
            if items and items[-1] is not None:
                items.append(None)
            continue
        caption, url_name = entry
        try:
            items.append({"caption": caption, "url": reverse(url_name)})
        except NoReverseMatch:
            continue
    while items and items[-1] is None:
        items.pop()
    return items


def navigation(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    erp = [
        {"caption": page.title, "url": reverse(f"{site.namespace}:list",
                                               kwargs={"model": page.slug})}
        for site, page in sites.pages(request.user)
    ]
    return {"nav_erp": erp, "nav_integration": _resolve(INTEGRATION_MENU)}
