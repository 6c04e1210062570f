"""How a flow becomes a method of both ``Client`` (it runs to its end and returns the result)
and ``AsyncClient`` (it returns a coroutine): the method is written once, as a flow, and
decorated. The decorators are descriptors whose ``__get__`` is typed by the object it is read
from, so mypy sees ``Client.get_space(...) -> Space`` and ``AsyncClient.get_space(...) ->
Awaitable[Space]``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, Concatenate, Generic, ParamSpec, TypeVar, cast, overload

from dingstore.client import flows
from dingstore.client.drivers import AsyncDriver, SyncDriver

P = ParamSpec("P")
T = TypeVar("T")


class Sync:
    """An object whose operations run to their end before they return."""

    _driver: SyncDriver


class Async:
    """An object whose operations are coroutines (and listings async iterators)."""

    _driver: AsyncDriver


class _Bound:
    """What the decorators share: the flow function and its name and docstring."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function
        functools.update_wrapper(cast(Any, self), function)

    def _bind(self, obj: Sync | Async, run: Callable[..., Any]) -> Callable[..., Any]:
        function = self._function

        @functools.wraps(function)
        def bound(*args: Any, **kwargs: Any) -> Any:
            return run(function(obj, *args, **kwargs))

        return bound


class operation(_Bound, Generic[P, T]):
    """A method written as a flow ending with a ``T``."""

    def __init__(self, flow: Callable[Concatenate[Any, P], flows.Flow[T]]) -> None:
        super().__init__(flow)
        self.flow = flow
        """The flow itself, for other flows: ``yield from Class.method.flow(self, ...)``."""

    @overload
    def __get__(self, obj: None, owner: type) -> operation[P, T]: ...
    @overload
    def __get__(self, obj: Sync, owner: type) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: Async, owner: type) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: Sync | Async | None, owner: type) -> Any:
        if obj is None:
            return self
        return self._bind(obj, obj._driver.run)


class listing(_Bound, Generic[P, T]):
    """A method that returns a listing (``flows.Pages``): an iterator of its items, which
    fetches each page when it gets there (``Client``: ``Iterator``; ``AsyncClient``:
    ``AsyncIterator``)."""

    def __init__(self, pages: Callable[Concatenate[Any, P], flows.Pages[T]]) -> None:
        super().__init__(pages)

    @overload
    def __get__(self, obj: None, owner: type) -> listing[P, T]: ...
    @overload
    def __get__(self, obj: Sync, owner: type) -> Callable[P, Iterator[T]]: ...
    @overload
    def __get__(self, obj: Async, owner: type) -> Callable[P, AsyncIterator[T]]: ...
    def __get__(self, obj: Sync | Async | None, owner: type) -> Any:
        if obj is None:
            return self
        return self._bind(obj, obj._driver.iterate)
