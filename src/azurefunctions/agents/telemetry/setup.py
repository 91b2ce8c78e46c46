"""Which telemetry pipeline the process gets, decided once from the environment.

- An OpenTelemetry tracer provider already installed (by the application, or by the Python worker when
  ``PYTHON_ENABLE_OPENTELEMETRY`` is on): the runtime uses it and configures nothing.
- ``APPLICATIONINSIGHTS_CONNECTION_STRING`` set: traces, metrics and the runtime's logs to Application Insights
  through the Azure Monitor exporter (extra ``monitor``: no instrumentation packages). The exporter itself reads
  ``APPLICATIONINSIGHTS_AUTHENTICATION_STRING`` (``Authorization=AAD;ClientId=<managed identity>``) and then
  ingests with Entra ID, as the infrastructure sets it. When the Azure Monitor distro is installed too (extra
  ``monitor-live``) and ``AGENTS_TELEMETRY_LIVE_METRICS`` is on, ``configure_azure_monitor`` sets the same
  pipeline up with Live Metrics, which only the distro provides.
- Else the standard ``OTEL_*`` variables asking for an exporter (``OTEL_TRACES_EXPORTER=console|otlp``,
  ``OTEL_EXPORTER_OTLP_ENDPOINT``...): the OpenTelemetry SDK configured from them by the SDK itself.
- Else nothing, and no OpenTelemetry module is imported (``detect`` reads only ``os.environ``/``sys.modules``).
``OTEL_SDK_DISABLED=true`` turns everything off.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
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
    # Providers someone already installed (the app, or the Python worker with PYTHON_ENABLE_OPENTELEMETRY) win:
    # they are process-wide and set once, so configuring a second pipeline would only duplicate the export.
    if "opentelemetry.trace" in sys.modules:
        from opentelemetry import trace

        if not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            return "existing"
    if settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get():
        return "azure_monitor"
    if _exporters("OTEL_TRACES_EXPORTER") or _exporters("OTEL_METRICS_EXPORTER") or any(
            os.environ.get(name) for name in _OTLP_VARIABLES):
        return "otel"
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
    if _truthy(settings.TELEMETRY_LIVE_METRICS.get()):
        if _has_distro():
            return _azure_monitor_distro()
        if settings.TELEMETRY_LIVE_METRICS.name in os.environ:  # asked for, not just the default
            logger.warning("telemetry: Live Metrics needs azure-monitor-opentelemetry: pip install "
                           "'azurefunctions-agent-framework[monitor-live]'; exporting without it")
    return _azure_monitor_exporter()


def _has_distro() -> bool:
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor  # noqa: F401
    except ImportError:
        return False
    return True


def _azure_monitor_distro() -> Pipeline:
    """The Azure Monitor distro: what the exporter pipeline does, plus Live Metrics."""
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics, trace

    configure_azure_monitor(
        connection_string=settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get(),
        logger_name=EXPORTED_LOGGER,
        enable_live_metrics=True,
    )
    logger.info("telemetry: Azure Monitor distro (Application Insights, Live Metrics)%s", _entra_note())
    return Pipeline("azure_monitor", trace.get_tracer_provider(), metrics.get_meter_provider(),
                    _logger_provider())


def _azure_monitor_exporter() -> Pipeline:
    """Traces, metrics and the runtime's logs to Application Insights through the exporter alone."""
    from azure.monitor.opentelemetry.exporter import (
        AzureMonitorLogExporter,
        AzureMonitorMetricExporter,
        AzureMonitorTraceExporter,
    )
    from opentelemetry import metrics, trace
    from opentelemetry._logs import set_logger_provider
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    connection_string = settings.APPLICATIONINSIGHTS_CONNECTION_STRING.get()
    resource = _resource()
    tracer_provider = TracerProvider(resource=resource, sampler=_azure_monitor_sampler())
    tracer_provider.add_span_processor(BatchSpanProcessor(AzureMonitorTraceExporter(
        connection_string=connection_string)))
    meter_provider = MeterProvider(resource=resource, metric_readers=[PeriodicExportingMetricReader(
        AzureMonitorMetricExporter(connection_string=connection_string))])
    logger_provider = LoggerProvider(resource=resource)
    logger_provider.add_log_record_processor(BatchLogRecordProcessor(AzureMonitorLogExporter(
        connection_string=connection_string)))
    trace.set_tracer_provider(tracer_provider)
    metrics.set_meter_provider(meter_provider)
    set_logger_provider(logger_provider)
    exported = logging.getLogger(EXPORTED_LOGGER)
    handler_type = _logging_handler_type()
    if not any(isinstance(handler, handler_type) for handler in exported.handlers):
        exported.addHandler(handler_type(logger_provider=logger_provider))
    logger.info("telemetry: Azure Monitor exporter (Application Insights)%s", _entra_note())
    return Pipeline("azure_monitor", tracer_provider, meter_provider, logger_provider)


def _logging_handler_type() -> Any:
    """The OpenTelemetry logging handler: ``opentelemetry-instrumentation-logging``'s when installed (the distro
    brings it), else the SDK's, which SDK 1.45 deprecates in its favour but still ships; the deprecation
    warning is silenced because an app cannot act on it and would see it at every cold start."""
    try:
        from opentelemetry.instrumentation.logging.handler import LoggingHandler
    except ImportError:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*LoggingHandler.*")
            from opentelemetry.sdk._logs import LoggingHandler as SdkLoggingHandler

        class QuietLoggingHandler(SdkLoggingHandler):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*LoggingHandler.*")
                    super().__init__(*args, **kwargs)

        return QuietLoggingHandler
    return LoggingHandler


def _entra_note() -> str:
    return " with Entra ID ingestion" if settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING.get() else ""


def _azure_monitor_sampler() -> Any:
    """The sampler the Azure Monitor distro would pick from ``OTEL_TRACES_SAMPLER``/``_ARG``: its two
    ``microsoft.*`` samplers (rate-limited, 5 traces a second, when unset); ``None`` for the standard names,
    which ``TracerProvider`` reads from the environment itself."""
    from azure.monitor.opentelemetry.exporter import ApplicationInsightsSampler, RateLimitedSampler

    name = (os.environ.get("OTEL_TRACES_SAMPLER") or "microsoft.rate_limited").strip().lower()
    raw = os.environ.get("OTEL_TRACES_SAMPLER_ARG")
    if name in ("microsoft.fixed_percentage", "microsoft.fixed.percentage"):
        return ApplicationInsightsSampler(sampling_ratio=_float_arg(raw, 1.0, upper=1.0))
    if name == "microsoft.rate_limited":
        return RateLimitedSampler(target_spans_per_second_limit=_float_arg(raw, 5.0))
    return None


def _float_arg(raw: str | None, default: float, upper: float | None = None) -> float:
    try:
        value = float(raw) if raw is not None and raw.strip() else default
    except ValueError:
        value = -1.0
    if value < 0 or (upper is not None and value > upper):
        logger.warning("OTEL_TRACES_SAMPLER_ARG=%r is not valid here; using %s", raw, default)
        return default
    return value


def _resource() -> Any:
    """``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` as the SDK reads them, with the Function App's
    name as the service (Application Insights' cloud role) when neither names one."""
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource

    resource = Resource.create()
    if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME: _service_name()}))
    return resource


def _otel_sdk() -> Pipeline:
    """The OpenTelemetry SDK configured by its own reader of the ``OTEL_*`` variables.

    That reader is ``_OTelSDKConfigurator``, what ``opentelemetry-instrument`` runs: exporters by name from the
    installed entry points (``console``, ``otlp``, ``otlp_proto_http``, ``otlp_proto_grpc``... for traces,
    metrics and logs), ``otlp`` mapped through ``OTEL_EXPORTER_OTLP_PROTOCOL`` (gRPC when unset, as the Python
    SDK does), the sampler, the resource and the exporters' own endpoint and header variables. Its module is
    underscored, but it is the SDK's one implementation of the environment specification, stable from 1.39 (the
    lowest version allowed) on. The runtime adds two things: an OTLP endpoint alone turns on the OTLP exporter
    for traces and metrics (http/protobuf, the OTLP default, unless ``OTEL_EXPORTER_OTLP_PROTOCOL`` says
    ``grpc``), and the service is the Function App's name when the environment names none.
    """
    from opentelemetry import metrics, trace
    from opentelemetry.sdk._configuration import _OTelSDKConfigurator

    endpoint_only = any(os.environ.get(name) for name in _OTLP_VARIABLES)
    otlp = ["otlp_proto_grpc" if _otlp_protocol() == "grpc" else "otlp_proto_http"] if endpoint_only else []
    _OTelSDKConfigurator().configure(  # type: ignore[no-untyped-call]
        trace_exporter_names=[] if os.environ.get("OTEL_TRACES_EXPORTER") else otlp,
        metric_exporter_names=[] if os.environ.get("OTEL_METRICS_EXPORTER") else otlp,
        resource_attributes=dict(_resource().attributes),
    )
    logger.info("telemetry: OpenTelemetry SDK (%s)", os.environ.get("OTEL_TRACES_EXPORTER") or ",".join(otlp))
    return Pipeline("otel", trace.get_tracer_provider(), metrics.get_meter_provider(), _logger_provider())


def _service_name() -> str:
    return os.environ.get("WEBSITE_SITE_NAME") or "azurefunctions-agents"


def _otlp_protocol() -> str:
    return (os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL") or "http/protobuf").strip().lower()
