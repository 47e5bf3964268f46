"""The model registry: named models with immutable numbered versions, aliases with a full
history of their moves, skops artifacts checked against the server's trusted types, and
batch scoring; serving (caches, runtime choice, predict) is :mod:`.serving`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func

from . import artifacts, compiled
from .errors import Invalid, NotFound
from .limits import MAX_INT32, check_int
from .model_card import ModelCard
from .model_versions import (
    EXAMPLE_ROWS,
    REGISTRATION_FIELDS,
    AliasMove,
    ModelSummary,
    ModelVersion,
    check_registration,
    checked_card,
    registration_metadata,
    runtime_here,
)
from .models import (
    AliasEventRecord,
    DatasetRecord,
    DatasetVersionRecord,
    ModelAliasRecord,
    ModelRecord,
    ModelVersionRecord,
)
from .names import Ref, check_alias, check_name, parse_ref
from .permissions import Permission, Principal, require
from .preprocessing import coerce_frame, describe_inputs
from .repository import TenantRepository, check_page
from .serving import ModelServing, predict_frame
from .tenancy import enforce_quotas
from .training import TrainingResult


class ModelRegistry(ModelServing):
    """Registry operations for a :class:`Principal`."""

    # -- writes ------------------------------------------------------------------------
    def register(
        self,
        principal: Principal,
        name: str,
        model: Any,
        *,
        task: str | None = None,
        algorithm: str | None = None,
        signature: list[dict[str, Any]] | None = None,
        output: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        dataset: str | None = None,
        recipe: list[dict[str, Any]] | None = None,
        training_spec: dict[str, Any] | None = None,
        library_versions: dict[str, Any] | None = None,
        description: str | None = None,
        note: str = "",
        input_example: pd.DataFrame | None = None,
        card: ModelCard | dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Store ``model`` (a :class:`~.training.TrainingResult`, or a fitted estimator with
        ``task``, ``algorithm`` and ``signature``) as the next version of ``name``.

        A training result brings its own metadata (holdout and CV metrics, signature, spec,
        dataset version) and its model card (the run's evaluation); the recipe that produced
        that dataset version is recorded too.
        The model is also compiled for serving (see :mod:`.compiled`) and verified on
        ``input_example`` rows, else on rows of its training dataset, else on synthesised rows.
        """
        if isinstance(model, TrainingResult):
            meta = registration_metadata(model)
            model = model.model
            task = task or meta["task"]
            algorithm = algorithm or meta["algorithm"]
            signature = signature or meta["signature"]
            output = output or meta["output"]
            params = params or meta["params"]
            metrics = metrics or meta["metrics"]
            dataset = dataset or meta["dataset"]
            training_spec = training_spec or meta["training_spec"]
            library_versions = library_versions or meta["library_versions"]
            card = card or meta["card"]
        if dataset and recipe is None:
            recipe = self.store.datasets.get(principal, dataset).recipe
        with self.store.audit.action(principal, "model.register", f"model:{name}") as act:
            require(principal, Permission.MODEL_WRITE)
            check_name(name, "model name")
            if not algorithm:
                raise Invalid("Name the algorithm of the model, e.g. 'random_forest'.")
            check_registration(
                {
                    "task": task,
                    "algorithm": algorithm,
                    "signature": signature,
                    "output": output,
                    "params": params,
                    "metrics": metrics,
                    "dataset": dataset,
                    "recipe": recipe,
                    "training_spec": training_spec,
                    "library_versions": library_versions,
                    "description": description,
                    "note": note,
                },
                self.store.config.json_limits,
            )
            data = artifacts.dump_model(model)
            # Refuse now what predict() would refuse later.
            artifacts.check_trusted(data, self.trusted_types)
            signature = self._described(principal, signature, dataset)
            compilation = self._compile(principal, model, signature, output, dataset, input_example)
            version = self._store_version(
                principal,
                name,
                data,
                compilation=compilation,
                task=task,
                algorithm=algorithm,
                signature=signature,
                output=output or {},
                params=params or {},
                metrics=metrics or {},
                dataset=dataset,
                recipe=recipe,
                training_spec=training_spec or {},
                library_versions=library_versions or artifacts.library_versions(),
                description=description,
                note=note,
                card=checked_card(card),
            )
            act.resource = f"model:{version.ref}"
            act.detail.update(
                algorithm=algorithm, task=task, dataset=dataset, runtime=version.runtime
            )
            return version

    def register_artifact(
        self,
        principal: Principal,
        name: str,
        data: bytes,
        metadata: dict[str, Any],
    ) -> ModelVersion:
        """Register a skops artifact uploaded as bytes; it must only contain trusted types."""
        with self.store.audit.action(principal, "model.register", f"model:{name}") as act:
            require(principal, Permission.MODEL_WRITE)
            check_name(name, "model name")
            meta = {k: v for k, v in metadata.items() if k in REGISTRATION_FIELDS}
            check_registration(meta, self.store.config.json_limits)
            artifacts.check_unpacked_size(data, self.store.config.max_artifact_unpacked_bytes)
            artifacts.check_trusted(data, self.trusted_types)
            example = meta.get("input_example")
            if example is not None and not (
                isinstance(example, list) and all(isinstance(r, dict) for r in example)
            ):
                raise Invalid("input_example must be a list of {column: value} records.")
            card = checked_card(meta.get("card"))
            model = artifacts.load_model(data, trusted=self.trusted_types)
            meta["signature"] = self._described(principal, meta["signature"], meta.get("dataset"))
            compilation = self._compile(
                principal,
                model,
                meta["signature"],
                meta.get("output") or {},
                meta.get("dataset"),
                pd.DataFrame.from_records(example) if example else None,
            )
            version = self._store_version(
                principal,
                name,
                data,
                compilation=compilation,
                task=meta["task"],
                algorithm=meta.get("algorithm") or "",
                signature=meta["signature"],
                output=meta.get("output") or {},
                params=meta.get("params") or {},
                metrics=meta.get("metrics") or {},
                dataset=meta.get("dataset"),
                recipe=meta.get("recipe"),
                training_spec=meta.get("training_spec") or {},
                library_versions=meta.get("library_versions") or {},
                description=meta.get("description"),
                note=str(meta.get("note") or ""),
                card=card,
            )
            act.resource = f"model:{version.ref}"
            act.detail.update(runtime=version.runtime)
            return version

    def _described(
        self, principal: Principal, signature: list[dict[str, Any]], dataset: str | None
    ) -> list[dict[str, Any]]:
        """The signature with the training data's ranges and categories per column
        (``stats``, see :func:`.preprocessing.column_stats`). Engine results bring them;
        other models get them from their training ``dataset`` when it names one."""
        if not dataset or not all(isinstance(c, dict) and "name" in c for c in signature):
            return signature
        if all("stats" in c for c in signature):
            return signature
        names = [c["name"] for c in signature]
        try:
            rows = self.store.datasets.load(principal, dataset, columns=names)
        except (Invalid, NotFound):
            return signature  # the dataset lacks the signature's columns: nothing to describe
        return describe_inputs(rows, signature)

    def _compile(
        self,
        principal: Principal,
        model: Any,
        signature: list[dict[str, Any]],
        output: dict[str, Any] | None,
        dataset: str | None,
        input_example: pd.DataFrame | None,
    ) -> compiled.Compilation:
        """The compiled form of ``model``, verified on the best example rows at hand."""
        if not self.store.config.compile_models:
            return compiled.Compilation(None, "Not compiled: compilation is off on this server.")
        examples = None
        if input_example is not None:
            if not isinstance(input_example, pd.DataFrame):
                raise Invalid("input_example must be a DataFrame of input rows.")
            examples = coerce_frame(input_example.head(EXAMPLE_ROWS), signature, strict=True)
        elif dataset:
            names = [c["name"] for c in signature]
            try:
                rows = self.store.datasets.load(principal, dataset, columns=names)
            except (Invalid, NotFound):
                rows = None  # a dataset without the signature's columns: verify on synthesised
            if rows is not None and len(rows):
                sample = rows.sample(min(len(rows), EXAMPLE_ROWS), random_state=0)
                examples = coerce_frame(sample, signature, strict=False)
        return compiled.compile_model(model, signature, output or {}, examples)

    def compile(self, principal: Principal, ref: str) -> ModelVersion:
        """Compile an existing version for serving (one registered before compilation, or
        by another release), verified on rows of its training dataset when it names one.
        Whatever the outcome, ``runtime`` and ``runtime_note`` say which runtime serves it."""
        with self.store.audit.action(principal, "model.compile", f"model:{ref}") as act:
            require(principal, Permission.MODEL_WRITE)
            unavailable = compiled.unavailable_note()
            if unavailable is not None and self.store.config.compile_models:
                # Compiling here would only drop the compiled file another install wrote.
                raise Invalid(unavailable)
            version, model = self.load(principal, ref)
            compilation = self._compile(
                principal, model, version.signature, version.output, version.dataset, None
            )
            with self.store.session() as session:
                repo = self.store.repo(session, principal)
                model_row, row = self._resolve(repo, version.ref)
                tenant_id, model_id = repo.tenant_id, model_row.id
            staged = None
            if compilation.data is not None:
                staged = self.store.storage.put_bytes(
                    tenant_id, "compiled", model_id, compilation.data
                )
            try:
                with self.store.transaction() as session:
                    repo = self.store.repo(session, principal)
                    repo.lock_tenant()
                    model_row, row = self._resolve(repo, version.ref)
                    old_key = row.compiled_key
                    if staged is not None:
                        quotas = self.store.quotas(session, principal)
                        enforce_quotas(
                            repo,
                            quotas,
                            new_model=False,
                            incoming_bytes=staged.size - (row.compiled_bytes or 0),
                        )
                        key = staged.commit(model_row.id, row.version)
                    row.runtime = compilation.runtime
                    row.runtime_note = compilation.note
                    row.compiled_key = result_key = key if staged is not None else None
                    row.compiled_sha256 = staged.sha256 if staged is not None else None
                    row.compiled_bytes = staged.size if staged is not None else 0
                    session.flush()
                    result = self._to_version(repo, model_row, row)
            except BaseException:
                if staged is not None:
                    staged.discard()
                raise
            # The file it replaced (each write has a key of its own) goes once the row no
            # longer names it.
            if old_key and old_key != result_key:
                self.store.storage.remove(old_key)
            self._changed()
            act.resource = f"model:{result.ref}"
            act.detail.update(runtime=result.runtime)
            return result

    def set_alias(self, principal: Principal, name: str, alias: str, version: int) -> ModelVersion:
        """Point ``alias`` at ``version`` (moving it if set), recording the move."""
        with self.store.audit.action(principal, "model.set_alias", f"model:{name}@{alias}") as act:
            require(principal, Permission.MODEL_WRITE)
            check_alias(alias)
            version = check_int(version, "version", 1, MAX_INT32)
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                repo.lock_tenant()
                model = self._model_row(repo, name)
                target = self._version_by_number(repo, model, version)
                row = repo.one_or_none(
                    ModelAliasRecord,
                    ModelAliasRecord.model_id == model.id,
                    ModelAliasRecord.alias == alias,
                )
                previous = None
                if row is None:
                    row = repo.add(
                        ModelAliasRecord(
                            model_id=model.id,
                            alias=alias,
                            version_id=target.id,
                            updated_by=principal.user,
                        )
                    )
                else:
                    previous = self._number_of(repo, row.version_id)
                    row.version_id = target.id
                    row.updated_by = principal.user
                    row.updated_at = datetime.now(row.updated_at.tzinfo)
                repo.add(
                    AliasEventRecord(
                        model_id=model.id,
                        alias=alias,
                        from_version=previous,
                        to_version=target.version,
                        actor=principal.user,
                    )
                )
                session.flush()
                act.detail.update(from_version=previous, to_version=target.version)
                moved = self._to_version(repo, model, target)
            self._changed()
            return moved

    def remove_alias(self, principal: Principal, name: str, alias: str) -> None:
        with self.store.audit.action(principal, "model.remove_alias", f"model:{name}@{alias}"):
            require(principal, Permission.MODEL_WRITE)
            check_alias(alias)
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                model = self._model_row(repo, name)
                row = repo.get(
                    ModelAliasRecord,
                    f"Alias {name}@{alias}",
                    ModelAliasRecord.model_id == model.id,
                    ModelAliasRecord.alias == alias,
                )
                previous = self._number_of(repo, row.version_id)
                session.delete(row)
                repo.add(
                    AliasEventRecord(
                        model_id=model.id,
                        alias=alias,
                        from_version=previous,
                        to_version=None,
                        actor=principal.user,
                    )
                )
            self._changed()

    def delete(self, principal: Principal, name: str, version: int | None = None) -> int:
        """Delete one version (and aliases pointing at it) or the whole model."""
        resource = f"model:{name}" + (f"@{version}" if version else "")
        with self.store.audit.action(principal, "model.delete", resource) as act:
            require(principal, Permission.MODEL_DELETE)
            with self.store.transaction() as session:
                repo = self.store.repo(session, principal)
                model = self._model_row(repo, name)
                stmt = repo.select(ModelVersionRecord).where(
                    ModelVersionRecord.model_id == model.id
                )
                if version is not None:
                    stmt = stmt.where(ModelVersionRecord.version == int(version))
                rows = list(session.scalars(stmt))
                if not rows:
                    raise NotFound(f"Model {name}@{version} not found.")
                ids = [r.id for r in rows]
                for alias in session.scalars(
                    repo.select(ModelAliasRecord).where(ModelAliasRecord.version_id.in_(ids))
                ):
                    session.delete(alias)
                keys = [r.storage_key for r in rows]
                keys += [r.compiled_key for r in rows if r.compiled_key]
                for row in rows:
                    session.delete(row)
                session.flush()
                if repo.count(ModelVersionRecord, ModelVersionRecord.model_id == model.id) == 0:
                    session.delete(model)
            self._changed()
            for key in keys:
                self.store.storage.remove(key)
                self.store.storage.prune(key)
            act.detail.update(versions=len(rows))
            return len(rows)

    # -- reads -------------------------------------------------------------------------
    def list(
        self, principal: Principal, *, search: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[ModelSummary]:
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.list")
        check_page(limit, offset)
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            stmt = repo.select(ModelRecord)
            if search:
                stmt = stmt.where(func.lower(ModelRecord.name).like(f"%{search.lower()}%"))
            out = []
            for model in session.scalars(
                stmt.order_by(ModelRecord.name).limit(limit).offset(offset)
            ):
                latest = session.scalars(
                    repo.select(ModelVersionRecord)
                    .where(ModelVersionRecord.model_id == model.id)
                    .order_by(ModelVersionRecord.version.desc())
                    .limit(1)
                ).first()
                if latest is None:
                    continue
                n = repo.count(ModelVersionRecord, ModelVersionRecord.model_id == model.id)
                out.append(
                    ModelSummary(
                        model.name,
                        model.description,
                        n,
                        self._to_version(repo, model, latest),
                        self._aliases(repo, model),
                    )
                )
            return out

    def get(self, principal: Principal, ref: str) -> ModelVersion:
        """``name`` (latest), ``name@N`` or ``name@alias``."""
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.get")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            model, row = self._resolve(repo, ref)
            return self._to_version(repo, model, row, card=True)

    def versions(self, principal: Principal, name: str) -> list[ModelVersion]:
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.versions")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            model = self._model_row(repo, name)
            rows = session.scalars(
                repo.select(ModelVersionRecord)
                .where(ModelVersionRecord.model_id == model.id)
                .order_by(ModelVersionRecord.version)
            )
            return [self._to_version(repo, model, r) for r in rows]

    def alias_history(self, principal: Principal, name: str) -> list[AliasMove]:
        """Every alias move of ``name``, oldest first."""
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.alias_history")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            model = self._model_row(repo, name)
            rows = session.scalars(
                repo.select(AliasEventRecord)
                .where(AliasEventRecord.model_id == model.id)
                .order_by(AliasEventRecord.id)
            )
            return [
                AliasMove(r.alias, r.from_version, r.to_version, r.actor, r.created_at)
                for r in rows
            ]

    def artifact(self, principal: Principal, ref: str) -> tuple[ModelVersion, bytes, list[str]]:
        """The stored skops bytes of a version (download), and the types in them beyond
        skops' own that this server trusts: a client loading the bytes elsewhere trusts
        exactly those, so it refuses what :meth:`load` here would refuse."""
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.artifact")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            model, row = self._resolve(repo, ref)
            version, key = self._to_version(repo, model, row), row.storage_key
        data = self.store.storage.read_bytes(key, label=f"model {version.ref}")
        return version, data, artifacts.trusted_types_in(data, self.trusted_types)

    def load(self, principal: Principal, ref: str) -> tuple[ModelVersion, Any]:
        """The fitted estimator of a version, verified against its hash and the trusted types."""
        self.store.audit.authorize(principal, Permission.MODEL_READ, "model.load")
        with self.store.session() as session:
            repo = self.store.repo(session, principal)
            model, row = self._resolve(repo, ref)
            version, key = self._to_version(repo, model, row), row.storage_key
        return version, self._cached_model(version.sha256, key, f"model {version.ref}")

    def score_dataset(
        self,
        principal: Principal,
        model_ref: str,
        dataset_ref: str,
        save_as: str,
        *,
        note: str = "",
    ) -> Any:
        """Batch scoring: predictions of ``model_ref`` on a dataset version, saved as a new
        dataset version whose lineage names both the input version and the model version."""
        self.store.audit.authorize(principal, Permission.MODEL_PREDICT, "model.score_dataset")
        self.store.audit.authorize(principal, Permission.DATASET_WRITE, "model.score_dataset")
        check_name(save_as, "dataset name")
        version = self.get(principal, model_ref)
        serving = self.serving(principal, version.ref)
        source = self.store.datasets.get(principal, dataset_ref)
        frame = self.store.datasets.load(principal, source.ref)
        predictions = predict_frame(
            serving.model, frame, version.signature, version.output, serving.compiled
        )
        clash = [c for c in predictions.columns if c in frame.columns]
        if clash:
            raise Invalid(
                f"The dataset already has column(s) {', '.join(clash)}; rename them before scoring."
            )
        scored = pd.concat(
            [frame.reset_index(drop=True), predictions.reset_index(drop=True)], axis=1
        )
        return self.store.datasets.save(
            principal,
            scored,
            save_as,
            parent=source.ref,
            note=note or f"Predictions of {version.ref}",
            model=version.ref,
            model_columns=list(predictions.columns),
        )

    # -- lineage helpers for other services ----------------------------------------------
    def version_id(self, repo: TenantRepository, ref: str) -> str:
        """Row id of a model version reference, within ``repo``'s tenant."""
        return self._resolve(repo, ref)[1].id

    def ref_of(self, repo: TenantRepository, version_id: str) -> str | None:
        found = repo.session.execute(
            repo.select(ModelVersionRecord, ModelRecord.name, ModelVersionRecord.version)
            .join(ModelRecord, ModelRecord.id == ModelVersionRecord.model_id)
            .where(ModelVersionRecord.id == version_id)
        ).first()
        return f"{found[0]}@{found[1]}" if found else None

    # -- internals ---------------------------------------------------------------------
    def _store_version(
        self,
        principal: Principal,
        name: str,
        data: bytes,
        *,
        compilation: compiled.Compilation,
        **meta: Any,
    ) -> ModelVersion:
        store = self.store
        with store.session() as session:
            repo = store.repo(session, principal)
            existing = repo.one_or_none(ModelRecord, ModelRecord.name == name)
            tenant_id = repo.tenant_id
            dataset_version_id = None
            if meta["dataset"]:
                dataset_version_id = self._dataset_version_id(repo, meta["dataset"])
        from .models import new_id

        model_id = existing.id if existing else new_id()
        staged = store.storage.put_bytes(tenant_id, "models", model_id, data)
        staged_compiled = None
        try:
            if compilation.data is not None:
                staged_compiled = store.storage.put_bytes(
                    tenant_id, "compiled", model_id, compilation.data
                )
            with store.transaction() as session:
                repo = store.repo(session, principal)
                repo.lock_tenant()
                quotas = store.quotas(session, principal)
                model = repo.one_or_none(ModelRecord, ModelRecord.name == name)
                incoming = staged.size + (staged_compiled.size if staged_compiled else 0)
                enforce_quotas(repo, quotas, new_model=model is None, incoming_bytes=incoming)
                model = repo.named(
                    ModelRecord,
                    name,
                    new_id=model_id,
                    description=meta["description"],
                    user=principal.user,
                )
                number = repo.next_version("models", name, ModelVersionRecord.model_id, model.id)
                key = staged.commit(model.id, number)
                compiled_key = None
                if staged_compiled is not None:
                    compiled_key = staged_compiled.commit(model.id, number)
                row = repo.add(
                    ModelVersionRecord(
                        model_id=model.id,
                        version=number,
                        storage_key=key,
                        sha256=staged.sha256,
                        size_bytes=staged.size,
                        task=meta["task"],
                        algorithm=meta["algorithm"],
                        params=artifacts.json_safe(meta["params"]),
                        metrics=artifacts.json_safe(meta["metrics"]),
                        signature=artifacts.json_safe(meta["signature"]),
                        output=artifacts.json_safe(meta["output"]),
                        dataset_version_id=dataset_version_id,
                        dataset_ref=meta["dataset"] or "",
                        recipe=meta["recipe"],
                        training_spec=artifacts.json_safe(meta["training_spec"]),
                        library_versions=meta["library_versions"],
                        note=meta["note"],
                        created_by=principal.user,
                        runtime=compilation.runtime,
                        runtime_note=compilation.note,
                        compiled_key=compiled_key,
                        compiled_sha256=staged_compiled.sha256 if staged_compiled else None,
                        compiled_bytes=staged_compiled.size if staged_compiled else 0,
                        card=meta["card"].to_dict() if meta["card"] is not None else None,
                    )
                )
                session.flush()
                stored = self._to_version(repo, model, row, card=True)
        except BaseException:
            staged.discard()
            if staged_compiled is not None:
                staged_compiled.discard()
            raise
        self._changed()
        return stored

    def _dataset_version_id(self, repo: TenantRepository, ref: str) -> str:
        parsed = parse_ref(ref)
        ds = repo.get(DatasetRecord, f"Dataset {parsed.name!r}", DatasetRecord.name == parsed.name)
        stmt = repo.select(DatasetVersionRecord).where(DatasetVersionRecord.dataset_id == ds.id)
        if parsed.version is None:
            stmt = stmt.order_by(DatasetVersionRecord.version.desc()).limit(1)
        else:
            stmt = stmt.where(DatasetVersionRecord.version == parsed.version)
        row = repo.session.scalars(stmt).first()
        if row is None:
            raise NotFound(f"Dataset {parsed} not found.")
        return row.id

    def _model_row(self, repo: TenantRepository, name: str) -> ModelRecord:
        check_name(name, "model name")
        return repo.get(ModelRecord, f"Model {name!r}", ModelRecord.name == name)

    def _version_by_number(
        self, repo: TenantRepository, model: ModelRecord, number: int
    ) -> ModelVersionRecord:
        return repo.get(
            ModelVersionRecord,
            f"Model {model.name}@{number}",
            ModelVersionRecord.model_id == model.id,
            ModelVersionRecord.version == number,
        )

    def _resolve(
        self, repo: TenantRepository, ref: str | Ref
    ) -> tuple[ModelRecord, ModelVersionRecord]:
        parsed = parse_ref(ref, allow_alias=True, what="model")
        model = self._model_row(repo, parsed.name)
        if parsed.version is not None:
            return model, self._version_by_number(repo, model, parsed.version)
        if parsed.alias is not None:
            alias = repo.get(
                ModelAliasRecord,
                f"Model {parsed}",
                ModelAliasRecord.model_id == model.id,
                ModelAliasRecord.alias == parsed.alias,
            )
            return model, repo.get(
                ModelVersionRecord, f"Model {parsed}", ModelVersionRecord.id == alias.version_id
            )
        row = repo.session.scalars(
            repo.select(ModelVersionRecord)
            .where(ModelVersionRecord.model_id == model.id)
            .order_by(ModelVersionRecord.version.desc())
            .limit(1)
        ).first()
        if row is None:
            raise NotFound(f"Model {parsed} not found.")
        return model, row

    def _number_of(self, repo: TenantRepository, version_id: str) -> int | None:
        return repo.session.scalar(
            repo.select(ModelVersionRecord, ModelVersionRecord.version).where(
                ModelVersionRecord.id == version_id
            )
        )

    def _aliases(self, repo: TenantRepository, model: ModelRecord) -> dict[str, int]:
        rows = repo.session.execute(
            repo.select(ModelAliasRecord, ModelAliasRecord.alias, ModelVersionRecord.version)
            .join(ModelVersionRecord, ModelVersionRecord.id == ModelAliasRecord.version_id)
            .where(ModelAliasRecord.model_id == model.id)
            .order_by(ModelAliasRecord.alias)
        )
        return {alias: version for alias, version in rows}

    def _to_version(
        self,
        repo: TenantRepository,
        model: ModelRecord,
        row: ModelVersionRecord,
        *,
        card: bool = False,
    ) -> ModelVersion:
        """The public view of a version row; with its model card (a read of its own) when
        ``card``."""
        aliases = sorted(a for a, v in self._aliases(repo, model).items() if v == row.version)
        stored_card = row.card if card else None
        return ModelVersion(
            name=model.name,
            version=row.version,
            task=row.task,
            algorithm=row.algorithm,
            params=dict(row.params or {}),
            metrics=dict(row.metrics or {}),
            signature=list(row.signature or []),
            output=dict(row.output or {}),
            dataset=row.dataset_ref or None,
            recipe=row.recipe,
            training_spec=dict(row.training_spec or {}),
            library_versions=dict(row.library_versions or {}),
            sha256=row.sha256,
            size_bytes=row.size_bytes,
            aliases=aliases,
            created_by=row.created_by,
            created_at=row.created_at,
            note=row.note,
            **runtime_here(row.runtime, row.runtime_note),
            card=ModelCard(**stored_card) if stored_card else None,
        )
