"""Which telemetry pipeline the process gets, decided once from the environment.

- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set: ``configure_azure_monitor`` (traces, metrics and the
  runtime's logs to Application Insights). The exporter itself reads ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING``
  (``Authorization=AAD;ClientId=<managed identity>``) and then ingests with Entra ID, as the infrastructure sets it.
- Else the standard ``OTEL_*`` variables asking for an exporter (``OTEL_TRACES_EXPORTER=console|otlp``,
  ``OTEL_EXPORTER_OTLP_ENDPOINT``...): the OpenTelemetry SDK with that exporter.
- Else, when the application already installed an OpenTelemetry tracer provider, the runtime uses it.
- Else nothing, and no OpenTelemetry module is imported (``detect`` reads only ``os.environ``/``sys.modules``).
``OTEL_SDK_DISABLED=true`` turns everything off.
"""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import dataclass
from typing import Any

from .. import settings

logger = logging.getLogger("azurefunctions.agents.telemetry")

#: Logger whose records the Azure Monitor pipeline exports (the host already collects the app's own logs).
EXPORTED_LOGGER = "azurefunctions.agents"

_OTLP_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                   "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT")


@dataclass(frozen=True)
class Pipeline:
    """What ``configure`` set up (or found): the providers to flush."""

    kind: str  # "azure_monitor", "otel" or "existing"
    tracer_provider: Any
    meter_provider: Any
    logger_provider: Any = None


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _exporters(variable: str) -> list[str]:
    raw = os.environ.get(variable, "")
    return [name.strip().lower() for name in raw.split(",") if name.strip() and name.strip().lower() != "none"]


def detect() -> str | None:
    """The pipeline the environment asks for, without importing anything."""
    if _truthy(os.environ.get("OTEL_SDK_DISABLED")):
        return None
    if settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get():
        return "azure_monitor"
    if _exporters("OTEL_TRACES_EXPORTER") or _exporters("OTEL_METRICS_EXPORTER") or any(
            os.environ.get(name) for name in _OTLP_VARIABLES):
        return "otel"
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import trace

        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return "existing"
    return None


def configure(kind: str) -> Pipeline:
    """Set up the pipeline ``detect`` chose; process-global, so called once per process."""
    if kind == "azure_monitor":
        return _azure_monitor()
    if kind == "otel":
        return _otel_sdk()
    return _existing()


def _existing() -> Pipeline:
    from opentelemetry import metrics, trace

    return Pipeline("existing", trace.get_tracer_provider(), metrics.get_meter_provider(), _logger_provider())


def _logger_provider() -> Any:
    try:
        from opentelemetry._logs import get_logger_provider
    except ImportError:
        return None
    return get_logger_provider()


def _azure_monitor() -> Pipeline:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics, trace

    configure_azure_monitor(
        connection_string=settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get(),
        logger_name=EXPORTED_LOGGER,
        enable_live_metrics=_truthy(settings.TELEMETRY_LIVE_METRICS.get()),
    )
    logger.info("telemetry: Azure Monitor (Application Insights)%s",
                " with Entra ID ingestion" if settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING.get() else "")
    return Pipeline("azure_monitor", trace.get_tracer_provider(), metrics.get_meter_provider(),
                    _logger_provider())


def _otel_sdk() -> Pipeline:
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or _service_name()})
    otlp_default = ["otlp"] if any(os.environ.get(name) for name in _OTLP_VARIABLES) else []
    tracer_provider = TracerProvider(resource=resource)
    for name in _exporters("OTEL_TRACES_EXPORTER") or otlp_default:
        tracer_provider.add_span_processor(BatchSpanProcessor(_span_exporter(name)))
    readers: list[MetricReader] = [PeriodicExportingMetricReader(_metric_exporter(name))
                                   for name in _exporters("OTEL_METRICS_EXPORTER") or otlp_default]
    meter_provider = MeterProvider(resource=resource, metric_readers=readers)
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    logger.info("telemetry: OpenTelemetry SDK (%s)", os.environ.get("OTEL_TRACES_EXPORTER") or "otlp")
    return Pipeline("otel", tracer_provider, meter_provider)


def _service_name() -> str:
    return os.environ.get("WEBSITE_SITE_NAME") or "azurefunctions-agents"


def _span_exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if name == "otlp":
        if _otlp_protocol() == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter  # type: ignore[assignment]
        return OTLPSpanExporter()
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here: use console or otlp")


def _metric_exporter(name: str) -> Any:
    if name == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter

        return ConsoleMetricExporter()
    if name == "otlp":
        if _otlp_protocol() == "grpc":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        else:
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter  # type: ignore[assignment]
        return OTLPMetricExporter()
    raise ValueError(f"OTEL_METRICS_EXPORTER={name!r} is not supported here: use console or otlp")


def _otlp_protocol() -> str:
    return (os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
