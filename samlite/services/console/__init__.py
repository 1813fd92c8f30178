"""The local web console: stacks, functions, queues and async events in a browser, served by the
engine under `/_samlite/console/` on the gateway port (`app.ConsoleApp`). It reads through the
services' own methods and the store's query methods (`views.ConsoleViews`), and changes state
only through service methods (QueueService.send/purge, InvokeService.invoke)."""
