"""What every platform sandbox shares that is not the platform: serving over HTTP, the fault
queue, the request journal and the ``/_sandbox/faults`` and ``/_sandbox/journal`` routes."""
