"""The model registry: versions, aliases, artifacts and prediction."""

from __future__ import annotations

import json

import orjson
import pandas as pd
import pyarrow as pa

from ...core.artifacts import TRUSTED_TYPES_HEADER
from ...core.compiled import RUNTIME_SKLEARN
from ...core.errors import Invalid
from ...core.limits import parse_json
from ...core.model_versions import REGISTRATION_FIELDS
from ...core.names import parse_ref
from .. import codecs, metrics
from ..base import ApiHandler, PageHandler


class ModelsHandler(PageHandler):
    service = "models"


class ModelHandler(ApiHandler):
    async def get(self, ref: str) -> None:
        self.reply(await self.run(self.app.store.models.get, self.principal, ref))

    async def delete(self, ref: str) -> None:
        parsed = parse_ref(ref, what="model")
        count = await self.run(
            self.app.store.models.delete, self.principal, parsed.name, parsed.version
        )
        self.reply({"deleted_versions": count})


class ModelVersionsHandler(ApiHandler):
    async def get(self, name: str) -> None:
        self.reply(await self.run(self.app.store.models.versions, self.principal, name))

    async def post(self, name: str) -> None:
        """multipart/form-data: ``artifact`` (the skops file) and ``metadata`` (JSON)."""
        files = self.request.files.get("artifact") or []
        fields = self.request.body_arguments.get("metadata") or []
        if len(files) != 1 or len(fields) != 1:
            raise Invalid(
                "Send multipart/form-data with one 'artifact' file (skops) and one "
                "'metadata' field (JSON)."
            )
        limits = self.app.store.config.json_limits
        metadata = parse_json(fields[0], "'metadata'", limits.max_depth, limits.max_bytes)
        if not isinstance(metadata, dict):
            raise Invalid("'metadata' must be a JSON object.")
        unknown = sorted(set(metadata) - REGISTRATION_FIELDS)
        if unknown:
            raise Invalid(
                f"Unknown metadata field(s): {', '.join(unknown)}; allowed: "
                f"{', '.join(sorted(REGISTRATION_FIELDS))}.",
                fields=unknown,
            )
        version = await self.run(
            self.app.store.models.register_artifact, self.principal, name, files[0].body, metadata
        )
        self.reply(version, 201)


class AliasesHandler(ApiHandler):
    async def get(self, name: str) -> None:
        history = await self.run(self.app.store.models.alias_history, self.principal, name)
        self.reply({"history": history})


class AliasHandler(ApiHandler):
    async def put(self, name: str, alias: str) -> None:
        version = self.json_body()["version"]
        self.reply(
            await self.run(self.app.store.models.set_alias, self.principal, name, alias, version)
        )

    async def delete(self, name: str, alias: str) -> None:
        await self.run(self.app.store.models.remove_alias, self.principal, name, alias)
        self.set_status(204)
        self.finish()


class ArtifactHandler(ApiHandler):
    async def get(self, ref: str) -> None:
        version, data, trusted = await self.run(self.app.store.models.artifact, self.principal, ref)
        self.set_header(
            "Content-Disposition", f'attachment; filename="{version.name}-{version.version}.skops"'
        )
        self.set_header("X-AstralytiQ-SHA256", version.sha256)
        self.set_header(TRUSTED_TYPES_HEADER, json.dumps(trusted))
        self.finish(data, set_content_type="application/octet-stream")


#: Request bodies up to this size are predicted on the event loop when the model is warm
#: (about 40 rows of 20 features as JSON).
INLINE_PREDICT_BYTES = 16 * 1024


class PredictHandler(ApiHandler):
    """Rows in (JSON records, Parquet, Arrow or CSV), predictions out (JSON by default, or
    what ``Accept`` names)."""

    async def post(self, ref: str) -> None:
        fmt = codecs.media_format(self.request.headers.get("Accept"), default="json")
        registry = self.app.store.models
        if len(self.request.body) <= INLINE_PREDICT_BYTES and registry.is_warm(self.principal, ref):
            # A few rows on a model already in memory take well under a millisecond on the
            # compiled runtime: a thread hop would cost more than the work.
            rows, data = self._predict(ref, fmt)
        else:
            # One thread hop for decode, predict and encode of large or cold requests, on a
            # bounded pool (one worker for compiled models, whose runtime already uses every
            # core): queued batches wait their turn in order.
            executor = (
                self.app.predict_executor
                if registry.runtime_of(self.principal, ref) == RUNTIME_SKLEARN
                else self.app.compiled_executor
            )
            loads = registry.loads
            rows, data = await self.run_on(executor, self._predict, ref, fmt)
            if registry.loads != loads:
                # A model was just loaded: it lives as long as the cache keeps it.
                self.app.freeze_long_lived()
        metrics.PREDICTIONS.inc(rows)
        media = "application/json" if fmt == "json" else codecs.FORMATS[fmt]
        self.finish(data, set_content_type=media)

    def _predict(self, ref: str, fmt: str) -> tuple[int, bytes]:
        body, content_type = self.request.body, self.request.headers.get("Content-Type")
        registry = self.app.store.models
        if fmt == "json" and codecs.media_format(content_type) == "json":
            records = codecs.decode_records(body)
            fast = registry.predict_records(self.principal, ref, records)
            if fast is not None:
                return len(fast), orjson.dumps({"predictions": fast})
            frame = pd.DataFrame.from_records(records)
        else:
            frame = codecs.decode_frame(body, content_type)
        predictions = registry.predict(self.principal, ref, frame)
        if fmt == "json":
            return len(predictions), codecs.records_document("predictions", predictions)
        table = pa.Table.from_pandas(predictions, preserve_index=False)
        return len(predictions), codecs.encode_table(table, fmt)


class ScoreHandler(ApiHandler):
    async def post(self, ref: str) -> None:
        body = self.json_body()
        version = await self.run(
            self.app.store.models.score_dataset,
            self.principal,
            ref,
            body["dataset"],
            body["save_as"],
            note=body.get("note") or "",
        )
        self.reply(version, 201)
