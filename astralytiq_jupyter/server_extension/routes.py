"""Every route of the REST API with the permission each verb needs: the one place that maps
routes to permissions (the permissions themselves live in ``core.permissions``).

Paths are relative to ``{base_url}astralytiq/api``. ``{ref}`` is a version reference
(``sales``, ``sales@3``, ``churn@production``), ``{name}`` a plain name. The OpenAPI document
is checked against this table by the tests, in both directions.
"""

from __future__ import annotations

from typing import Literal

from ..core.permissions import Permission
from . import params as Q
from .operations import (
    JSON,
    PLATFORM,
    PUBLIC,
    Operation,
    Route,
)
from .params import Param

P = Permission

PAGE = Q.PAGE
LISTING = Q.LISTING
TABLES = ("application/vnd.apache.parquet", "application/vnd.apache.arrow.stream", "text/csv")


def _op(
    id: str,
    permission: Permission | tuple[Permission, ...] | Literal["platform", "public"] | None,
    summary: str,
    query: tuple[Param, ...] = (),
    *,
    body: tuple[Param, ...] | None = None,
    success: tuple[int, ...] = (200,),
    produces: tuple[str, ...] = (JSON,),
) -> Operation:
    return Operation(id, permission, summary, query, body, success, produces)


def api_routes() -> list[Route]:
    """The route table. Handlers are imported here so that ``routes`` has no import cycle."""
    from .handlers import (
        audit,
        dashboards,
        datasets,
        meta,
        models,
        recipes,
        tenant,
        tokens,
        training,
    )

    return [
        Route(
            "/health",
            meta.HealthHandler,
            {
                "GET": _op(
                    "health",
                    PUBLIC,
                    "Liveness, without credentials; with them also the version and schema",
                )
            },
        ),
        Route(
            "/me",
            meta.MeHandler,
            {"GET": _op("me", None, "The caller: user, tenant, role, permissions, branding")},
        ),
        Route(
            "/session",
            meta.SessionHandler,
            {
                "POST": _op(
                    "session.extend",
                    None,
                    "Extend the expiry of the calling kernel's own token (while its user is a "
                    "member)",
                    body=(),
                )
            },
        ),
        Route(
            "/openapi.json",
            meta.OpenAPIHandler,
            {"GET": _op("openapi", None, "This API's OpenAPI document")},
        ),
        # -- datasets
        Route(
            "/datasets",
            datasets.DatasetsHandler,
            {
                "GET": _op(
                    "dataset.list", P.DATASET_READ, "List datasets (paged, searchable)", LISTING
                )
            },
        ),
        Route(
            "/datasets/{ref}",
            datasets.DatasetHandler,
            {
                "GET": _op("dataset.get", P.DATASET_READ, "Metadata of a version"),
                "DELETE": _op(
                    "dataset.delete",
                    P.DATASET_DELETE,
                    "Delete a dataset (name) or one version (name@N)",
                ),
            },
        ),
        Route(
            "/datasets/{name}/versions",
            datasets.VersionsHandler,
            {
                "GET": _op("dataset.versions", P.DATASET_READ, "Every version of a dataset"),
                "POST": _op(
                    "dataset.upload",
                    P.DATASET_WRITE,
                    "Upload a new version (streamed request body)",
                    (*Q.UPLOAD, Q.FORCE, *Q.UPLOAD_READ),
                    success=(200, 201),
                ),
            },
        ),
        Route(
            "/datasets/{name}/ingest",
            datasets.IngestHandler,
            {
                "POST": _op(
                    "dataset.ingest",
                    P.DATASET_WRITE,
                    "Ingest a new version from a URL or a SQL query",
                    body=(
                        Q.text("url", "An http(s) URL to download.", 8192),
                        Param(
                            "sql",
                            "object",
                            "A SQL source: {'url': SQLAlchemy URL, 'query': one SELECT}.",
                        ),
                        Q.UPLOAD_FORMAT,
                        Q.DESCRIPTION,
                        Q.NOTE,
                        Param(
                            "read_options",
                            "object",
                            "Options of the file format (delimiter, encoding, header, ...).",
                        ),
                        Q.FORCE,
                    ),
                    success=(200, 201),
                )
            },
        ),
        Route(
            "/datasets/{ref}/data",
            datasets.DataHandler,
            {
                "GET": _op(
                    "dataset.data",
                    P.DATASET_READ,
                    "Download rows as Parquet, Arrow IPC stream or CSV",
                    (Q.DOWNLOAD_FORMAT, Q.COLUMNS, Q.ROW_LIMIT, Q.ROW_OFFSET),
                    produces=TABLES,
                )
            },
        ),
        Route(
            "/datasets/{ref}/profile",
            datasets.ProfileHandler,
            {
                "GET": _op(
                    "dataset.profile",
                    P.DATASET_READ,
                    "EDA and quality report",
                    (Q.BINS, Q.TOP),
                )
            },
        ),
        Route(
            "/datasets/{ref}/clusters",
            datasets.ClustersHandler,
            {
                "GET": _op(
                    "dataset.clusters",
                    P.DATASET_READ,
                    "K-means cluster exploration (elbow, silhouettes, 2-D PCA) on a sample",
                    (Q.COLUMNS, Q.K_LIST, Q.K_MIN, Q.K_MAX, Q.SAMPLE, Q.SEED),
                )
            },
        ),
        Route(
            "/datasets/{ref}/sample",
            datasets.SampleHandler,
            {
                "GET": _op(
                    "dataset.sample",
                    P.DATASET_READ,
                    "A uniform random sample of rows, as Parquet (for charts of large data)",
                    (Q.SAMPLE_N, Q.COLUMNS, Q.SAMPLE_SEED, Q.SAMPLE_FILTERS),
                    produces=("application/vnd.apache.parquet",),
                )
            },
        ),
        Route(
            "/datasets/{ref}/aggregate",
            datasets.AggregateHandler,
            {
                "POST": _op(
                    "dataset.aggregate",
                    P.DATASET_READ,
                    "Group, bucket by time, filter and summarise rows next to the data "
                    "(only aggregates are returned)",
                    body=(
                        Param(
                            "query",
                            "object",
                            "The aggregation: group_by, time bucket, filters and metrics.",
                            required=True,
                        ),
                    ),
                )
            },
        ),
        Route(
            "/datasets/{ref}/preview",
            datasets.PreviewHandler,
            {
                "POST": _op(
                    "dataset.preview",
                    P.DATASET_READ,
                    "Preview a recipe on the first rows, step by step (nothing is stored)",
                    body=(Q.RECIPE, Q.PREVIEW_ROWS, Q.PREVIEW_HEAD),
                )
            },
        ),
        Route(
            "/datasets/{ref}/apply",
            datasets.ApplyHandler,
            {
                "POST": _op(
                    "dataset.apply",
                    P.DATASET_WRITE,
                    "Apply a recipe and store the result as a new version",
                    body=(Q.RECIPE, Q.SAVE_AS, Q.NOTE),
                    success=(201,),
                )
            },
        ),
        # -- recipes
        Route(
            "/recipes",
            recipes.RecipesHandler,
            {
                "GET": _op("recipe.list", P.RECIPE_READ, "List saved recipes", LISTING),
                "POST": _op(
                    "recipe.save",
                    P.RECIPE_WRITE,
                    "Create or replace a saved recipe",
                    body=(Q.RECIPE_NAME, Q.STEPS, Q.RECIPE_DESCRIPTION),
                    success=(201,),
                ),
            },
        ),
        Route(
            "/recipes/{name}",
            recipes.RecipeHandler,
            {
                "GET": _op("recipe.get", P.RECIPE_READ, "A saved recipe"),
                "PUT": _op(
                    "recipe.put",
                    P.RECIPE_WRITE,
                    "Create or replace a saved recipe",
                    body=(Q.STEPS, Q.RECIPE_DESCRIPTION),
                ),
                "DELETE": _op(
                    "recipe.delete", P.RECIPE_DELETE, "Delete a saved recipe", success=(204,)
                ),
            },
        ),
        # -- models
        Route(
            "/models",
            models.ModelsHandler,
            {"GET": _op("model.list", P.MODEL_READ, "List models (paged, searchable)", LISTING)},
        ),
        Route(
            "/models/{ref}",
            models.ModelHandler,
            {
                "GET": _op(
                    "model.get",
                    P.MODEL_READ,
                    "Metadata of a version (number or alias), with its model card: the "
                    "evaluation of the run that trained it",
                ),
                "DELETE": _op(
                    "model.delete", P.MODEL_DELETE, "Delete a model (name) or one version (name@N)"
                ),
            },
        ),
        Route(
            "/models/{name}/versions",
            models.ModelVersionsHandler,
            {
                "GET": _op("model.versions", P.MODEL_READ, "Every version of a model"),
                "POST": _op(
                    "model.register",
                    P.MODEL_WRITE,
                    "Register a version: skops artifact + metadata (multipart; metadata may "
                    "carry input_example records to verify the compiled version on)",
                    success=(201,),
                ),
            },
        ),
        Route(
            "/models/{name}/aliases",
            models.AliasesHandler,
            {"GET": _op("model.aliases", P.MODEL_READ, "Current aliases and their history")},
        ),
        Route(
            "/models/{name}/aliases/{alias}",
            models.AliasHandler,
            {
                "PUT": _op(
                    "model.set_alias",
                    P.MODEL_WRITE,
                    "Point an alias at a version",
                    body=(Q.VERSION,),
                ),
                "DELETE": _op(
                    "model.remove_alias", P.MODEL_WRITE, "Remove an alias", success=(204,)
                ),
            },
        ),
        Route(
            "/models/{ref}/artifact",
            models.ArtifactHandler,
            {
                "GET": _op(
                    "model.artifact",
                    P.MODEL_READ,
                    "Download the skops artifact",
                    produces=("application/octet-stream",),
                )
            },
        ),
        Route(
            "/models/{ref}/predict",
            models.PredictHandler,
            {
                "POST": _op(
                    "model.predict",
                    P.MODEL_PREDICT,
                    "Predict on JSON records or a Parquet/Arrow/CSV batch (compiled runtime "
                    "when the version has one)",
                    produces=(JSON, *TABLES),
                )
            },
        ),
        Route(
            "/models/{ref}/score",
            models.ScoreHandler,
            {
                "POST": _op(
                    "model.score",
                    (P.MODEL_PREDICT, P.DATASET_WRITE),
                    "Batch-score a dataset version into a new dataset version",
                    body=(
                        Q.DATASET_REF.but(required=True),
                        Q.SAVE_AS.but(required=True),
                        Q.NOTE,
                    ),
                    success=(201,),
                )
            },
        ),
        # -- dashboards
        Route(
            "/dashboards",
            dashboards.DashboardsHandler,
            {
                "GET": _op("dashboard.list", P.DASHBOARD_READ, "List dashboards", LISTING),
                "POST": _op(
                    "dashboard.save",
                    P.DASHBOARD_WRITE,
                    "Create or replace a dashboard",
                    body=Q.DASHBOARD,
                    success=(200, 201),
                ),
            },
        ),
        Route(
            "/dashboards/{name}",
            dashboards.DashboardHandler,
            {
                "GET": _op("dashboard.get", P.DASHBOARD_READ, "A dashboard spec"),
                "PUT": _op(
                    "dashboard.put", P.DASHBOARD_WRITE, "Replace a dashboard spec", body=Q.DASHBOARD
                ),
                "DELETE": _op(
                    "dashboard.delete", P.DASHBOARD_DELETE, "Delete a dashboard", success=(204,)
                ),
            },
        ),
        Route(
            "/dashboards/{name}/publish",
            dashboards.PublishHandler,
            {
                "POST": _op(
                    "dashboard.publish",
                    P.DASHBOARD_WRITE,
                    "The shareable address of a saved dashboard (its Voila app)",
                    body=(),  # an empty object: nothing about the address is the caller's
                )
            },
        ),
        # -- tenant
        Route(
            "/tenant",
            tenant.TenantHandler,
            {
                "GET": _op("tenant.get", P.TENANT_READ, "Settings, branding, plan and quotas"),
                "PATCH": _op(
                    "tenant.update",
                    P.TENANT_MANAGE,
                    "Change display name, branding, settings (plan: platform owner)",
                    body=(
                        Q.DISPLAY_NAME,
                        Param("branding", "object", "Branding fields to change."),
                        Param("settings", "object", "Settings to change (merged)."),
                        Q.PLAN,
                    ),
                ),
            },
        ),
        Route(
            "/tenant/usage",
            tenant.UsageHandler,
            {"GET": _op("tenant.usage", P.TENANT_READ, "Usage next to the plan's quotas")},
        ),
        Route(
            "/tenant/members",
            tenant.MembersHandler,
            {
                "GET": _op("member.list", P.MEMBER_READ, "Members and roles"),
                "POST": _op(
                    "member.add",
                    P.MEMBER_MANAGE,
                    "Add a member (role below your own)",
                    body=(Q.USERNAME, Q.ROLE.but(required=True)),
                    success=(201,),
                ),
            },
        ),
        Route(
            "/tenant/members/{username}",
            tenant.MemberHandler,
            {
                "PATCH": _op(
                    "member.set_role",
                    P.MEMBER_MANAGE,
                    "Change a member's role",
                    body=(Q.ROLE.but(required=True),),
                ),
                "DELETE": _op("member.remove", P.MEMBER_MANAGE, "Remove a member", success=(204,)),
            },
        ),
        Route(
            "/tenants",
            tenant.TenantsHandler,
            {
                "GET": _op("tenant.list_all", PLATFORM, "Every tenant (platform owner)"),
                "POST": _op(
                    "tenant.create",
                    PLATFORM,
                    "Create a tenant (platform owner)",
                    body=(
                        Q.text(
                            "slug", "The tenant's slug.", 63, pattern=Q.SLUG_PATTERN, required=True
                        ),
                        Q.DISPLAY_NAME,
                        Q.PLAN,
                        Q.text("admin", "Username made the tenant's first admin.", 200),
                    ),
                    success=(201,),
                ),
            },
        ),
        # -- training slots (the trainings themselves run in kernels)
        Route(
            "/training/slots",
            training.TrainingSlotsHandler,
            {
                "POST": _op(
                    "training.slot.acquire",
                    P.MODEL_TRAIN,
                    "Take one of the tenant's concurrent-training slots (429 with Retry-After "
                    "when all are taken; audited); renew it while training, then release it",
                    body=(Q.TRAINING_ACTION, Q.DATASET_REF),
                    success=(201,),
                ),
            },
        ),
        Route(
            "/training/slots/{slot_id}",
            training.TrainingSlotHandler,
            {
                "PUT": _op(
                    "training.slot.renew",
                    P.MODEL_TRAIN,
                    "Keep your training slot alive (a slot not renewed within its lifetime "
                    "expires and is reclaimed)",
                ),
                "DELETE": _op(
                    "training.slot.release",
                    P.MODEL_TRAIN,
                    "Give your training slot back",
                    success=(204,),
                ),
            },
        ),
        # -- audit and tokens
        Route(
            "/audit",
            audit.AuditHandler,
            {
                "GET": _op(
                    "audit.list",
                    P.AUDIT_READ,
                    "Audit events (filtered, paged)",
                    (
                        Q.text("action", "Audit action, e.g. model.register.", 64),
                        Q.text("actor", "Username of the actor.", 200),
                        Q.choice("outcome", ("ok", "denied", "error"), "The outcome."),
                        Q.text("resource", "Resource, e.g. model:churn@2.", 255),
                        Param("since", "date-time", "ISO 8601 time: events at or after."),
                        Param("until", "date-time", "ISO 8601 time: events before."),
                        *PAGE,
                    ),
                )
            },
        ),
        Route(
            "/tokens",
            tokens.TokensHandler,
            {
                "GET": _op(
                    "token.list",
                    P.TOKEN_MANAGE,
                    "API tokens of the tenant",
                    (
                        Param(
                            "include_inactive",
                            "boolean",
                            "'true' to list revoked and expired tokens too.",
                        ),
                        *PAGE,
                    ),
                ),
                "POST": _op(
                    "token.create",
                    P.TOKEN_MANAGE,
                    "Create an API token (secret shown once)",
                    body=(
                        Q.text("name", "What the token is for.", 128, required=True, min_length=1),
                        Q.ROLE.but(description="Its role (default: yours; never above it)."),
                        Q.EXPIRES_IN,
                    ),
                    success=(201,),
                ),
            },
        ),
        Route(
            "/tokens/{token_id}",
            tokens.TokenHandler,
            {"DELETE": _op("token.revoke", P.TOKEN_MANAGE, "Revoke an API token", success=(204,))},
        ),
    ]
