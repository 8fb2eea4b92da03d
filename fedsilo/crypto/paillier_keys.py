"""Threshold Paillier keys: the public key, the dealt threshold key, safe primes and the deal.

Everything here follows ``PROTOCOLS.md`` §2 (Damgård-Jurik 2001 with ``s = 1``, after
Shoup 2000); :mod:`fedsilo.crypto.paillier` explains how the pieces are used.

**Dealing.** Safe primes ``p = 2p'+1`` and ``q = 2q'+1`` of the same size give
``N = pq`` and ``M = p'q'``. The dealer picks the unique ``d`` mod ``NM`` with
``d ≡ 0 (mod M)`` and ``d ≡ 1 (mod N)`` (``d = M·(M⁻¹ mod N)``) and shares it with a
uniformly random polynomial ``f(X) = d + a_1 X + … + a_{t-1} X^{t-1}`` over
``Z_{NM}``: silo ``i`` (1..l) holds ``s_i = f(i) mod NM``. Because every prime factor
of ``NM`` is large, any ``t - 1`` shares are uniformly distributed whatever ``d`` is:
they say nothing about ``d`` (and so nothing about ``M``, the factorisation). The
public part is ``N``, a random square ``v`` mod ``N²`` (it generates the squares
``Q_{N²}``, of order ``NM``, except with negligible probability) and the verification
keys ``v_i = v^{Δ s_i} mod N²`` with ``Δ = l!``. Last, from the same entropy after
everything above (so ``f`` and ``v`` do not depend on it), the dealer draws the common
**obfuscator base** ``h_s = h^N mod N²`` with ``h = -x² mod N`` for a uniform unit ``x``
(DJN 2010): every silo's obfuscators are powers of this one ``h_s``, and every
contribution proves its plaintexts relative to it (:mod:`fedsilo.crypto.paillier_knowledge`).

**What a threshold key refuses.** Every public base must have a large order, or the
proofs over it prove nothing (``v = 1`` or ``v = 1 + N`` lets a silo "prove" any
false share). ``Z*_N`` (order ``4p'q'``) has no element of order 4 (a square has odd
order ``p'q'`` in ``QR_N``), and of its elements of order 2, ``-1`` has Jacobi symbol
``+1`` and the other two have ``-1``. So a unit ``y`` mod ``N²`` with Jacobi symbol
``(y mod N | N) = +1`` and ``y mod N ∉ {1, N - 1}`` has an order mod ``N`` divisible by
``p'`` or ``q'``: :func:`check_base` refuses anything else, for ``v``, every ``v_i``
and ``h_s``. The ``v_i`` must also be distinct (equal ones mean equal shares mod the
order of ``v``). These are cheap necessary conditions, not a proof that the dealer was
honest (``v`` generating ``Q_{N²}``, ``h_s`` being an ``N``-th residue): the dealer is
trusted for those, as it is for erasing ``p`` and ``q``.

**Safe primes** come from the injected :class:`~fedsilo.crypto.entropy.Entropy`: a
random odd start ``x_0`` with its top two bits set, a sieve over the window
``x_0, x_0 + 2, …`` that strikes every ``x`` with ``r | x`` or ``r | 2x + 1`` for the
odd primes ``r < 2^18``, then Fermat tests of ``x`` and ``2x + 1`` on the survivors and
GMP's BPSW-plus-Miller-Rabin (``gmpy2.is_prime``, 40 rounds) on the winner. Given that
``x`` is prime, ``2^{2x} ≡ 1 (mod 2x+1)`` proves ``2x + 1`` prime (Pocklington, as
``gcd(2² - 1, 2x + 1) = 1`` once 3 is sieved out); it is tested again anyway. The
primes are not exactly uniform among safe primes (a sieve favours primes after long
gaps), which is the usual and harmless bias of incremental search. With the top two
bits set, ``N`` has exactly twice the bits of each prime.

The dealer knows the key while dealing (a trusted, named party) and must erase ``p``,
``q``, ``M``, ``d`` and ``f`` afterwards; Python cannot wipe integers, so the deal should
run in a short-lived process.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import gmpy2

from fedsilo.crypto.entropy import Entropy
from fedsilo.errors import CryptoError

MIN_KEY_BITS = 512
"""The smallest ``|N|`` accepted at all: test keys only. Configs require 2048 or more."""

MAX_SILOS = 256
"""``Δ = l!`` grows every share exponent by ``|Δ|`` bits (1684 bits at 256 silos)."""

_SIEVE_LIMIT = 1 << 18
_SIEVE_WINDOW = 1 << 16
_MILLER_RABIN_ROUNDS = 40


@dataclass(frozen=True)
class PaillierPublicKey:
    """The Paillier modulus ``N = pq`` (generator ``g = N + 1``, implicit)."""

    n: int

    def __post_init__(self) -> None:
        if self.n % 2 == 0 or self.n.bit_length() < MIN_KEY_BITS:
            raise CryptoError(f"a Paillier modulus is odd and of at least {MIN_KEY_BITS} bits")

    @functools.cached_property
    def n_squared(self) -> int:
        """``N²``, the ciphertext modulus."""
        return self.n * self.n

    @property
    def bits(self) -> int:
        """``|N|``, the key size in bits."""
        return self.n.bit_length()

    @property
    def ciphertext_bytes(self) -> int:
        """The fixed width of one ciphertext on the wire: the bytes of ``N²``."""
        return (self.n_squared.bit_length() + 7) // 8

    def is_unit(self, value: int) -> bool:
        """Whether ``value`` lies in ``[1, N²)`` and is coprime to ``N``."""
        return 0 < value < self.n_squared and bool(gmpy2.gcd(value, self.n) == 1)


def default_exponent_bits(public: PaillierPublicKey) -> int:
    """``⌈|N|/2⌉``: DJN's short-exponent length (see :mod:`fedsilo.crypto.paillier`)."""
    return (public.bits + 1) // 2


def check_base(public: PaillierPublicKey, value: int, what: str) -> None:
    """Raise :class:`CryptoError` naming ``what`` unless ``value`` is a unit mod ``N²`` in
    ``[1, N²)`` with Jacobi symbol ``+1`` mod ``N`` and ``value mod N ∉ {1, N - 1}``: then
    its order is divisible by ``p'`` or ``q'`` (the module docstring)."""
    if not public.is_unit(value):
        raise CryptoError(f"{what} is not a unit mod N² in [1, N²)")
    residue = value % public.n
    if residue in (1, public.n - 1):
        raise CryptoError(f"{what} is ±1 mod N: it has order at most 2N, a degenerate base")
    if gmpy2.jacobi(residue, public.n) != 1:
        raise CryptoError(f"{what} has Jacobi symbol -1 mod N: it is not an honest base")


@dataclass(frozen=True)
class ThresholdKey:
    """Everything public about a dealt key: ``N``, ``v``, the ``v_i``, ``t``, ``l`` and the
    common obfuscator root ``h`` (each checked by :func:`check_base`), whose ``N``-th power
    ``h_s = h^N mod N²`` is the obfuscator base: published as ``h`` rather than ``h_s``, so
    anyone can see the base is an ``N``-th residue, which the soundness of the
    contribution proofs needs (:mod:`fedsilo.crypto.paillier_knowledge`)."""

    public: PaillierPublicKey
    v: int
    verification_keys: tuple[int, ...]
    threshold: int
    silos: int
    obfuscator_root: int

    def __post_init__(self) -> None:
        if not 1 <= self.silos <= MAX_SILOS:
            raise CryptoError(f"a threshold key has 1..{MAX_SILOS} silos, not {self.silos}")
        if not 1 <= self.threshold <= self.silos:
            raise CryptoError(f"threshold {self.threshold} is not in 1..{self.silos}")
        if len(self.verification_keys) != self.silos:
            raise CryptoError(
                f"a threshold key for {self.silos} silos has {self.silos} verification keys, "
                f"not {len(self.verification_keys)}"
            )
        check_base(self.public, self.v, "the verification base v")
        for i, v_i in enumerate(self.verification_keys, start=1):
            check_base(self.public, v_i, f"the verification key of silo {i}")
        if len(set(self.verification_keys)) != self.silos:
            raise CryptoError("two silos have the same verification key")
        if not self.obfuscator_root < self.public.n:
            raise CryptoError("the obfuscator root h is not below N")
        check_base(self.public, self.obfuscator_root, "the obfuscator root")

    @functools.cached_property
    def obfuscator_base(self) -> int:
        """``h_s = h^N mod N²``: an ``N``-th residue by construction."""
        return int(gmpy2.powmod(self.obfuscator_root, self.public.n, self.public.n_squared))

    @functools.cached_property
    def delta(self) -> int:
        """``Δ = l!``: it makes every Lagrange coefficient at 0 an integer."""
        return math.factorial(self.silos)

    def verification_key(self, index: int) -> int:
        """``v_i`` of silo ``index`` (1..l)."""
        self.check_index(index)
        return self.verification_keys[index - 1]

    def check_index(self, index: int) -> None:
        """Raise :class:`CryptoError` unless ``index`` names a silo (1..l)."""
        if not 1 <= index <= self.silos:
            raise CryptoError(f"silo index {index} is not in 1..{self.silos}")


@dataclass(frozen=True)
class KeyShare:
    """Silo ``index``'s secret ``s_i = f(i) mod NM``.

    ``value`` takes no part in ``repr``, ``==`` or ``hash``: two shares are equal when
    their indices are (a share is identified by its silo), so a dict or set of shares,
    a debug dump or a comparison never exposes, or branches on, the secret (a dataclass
    hash of ``(index, s_i)`` is invertible and would reveal ``s_i mod 2^61 - 1``). Compare
    ``value``s explicitly where the secret itself matters (tests only)."""

    index: int
    value: int = field(repr=False, compare=False)


@dataclass(frozen=True)
class DealtKey:
    """What a deal makes: the public key and each silo's share (share ``i`` at ``i - 1``)."""

    key: ThresholdKey
    shares: tuple[KeyShare, ...]


def random_below(bound: int, entropy: Entropy) -> int:
    """A uniform integer in ``[0, bound)`` (rejection sampling: exactly uniform)."""
    if bound < 1:
        raise CryptoError("cannot draw below a bound under 1")
    bits = (bound - 1).bit_length()
    while True:
        value = random_bits(bits, entropy)
        if value < bound:
            return value


def random_bits(bits: int, entropy: Entropy) -> int:
    """A uniform integer in ``[0, 2^bits)``."""
    data = entropy.random_bytes((bits + 7) // 8)
    return int.from_bytes(data, "big") & ((1 << bits) - 1)


def random_unit(modulus: int, entropy: Entropy) -> int:
    """A uniform unit in ``[1, modulus)`` (rejection sampling)."""
    while True:
        value = random_below(modulus, entropy)
        if value and gmpy2.gcd(value, modulus) == 1:
            return value


@functools.cache
def _odd_primes() -> tuple[int, ...]:
    limit = _SIEVE_LIMIT
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for i in range(2, math.isqrt(limit) + 1):
        if sieve[i]:
            sieve[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return tuple(i for i in range(3, limit, 2) if sieve[i])


def _sieve_window(start: int) -> bytearray:
    """Flags for ``x = start + 2j``: 0 where a small prime divides ``x`` or ``2x + 1``."""
    window = _SIEVE_WINDOW
    alive = bytearray([1]) * window
    zeros = memoryview(bytes(window))
    for r in _odd_primes():
        s = start % r
        half = (r + 1) // 2  # 2⁻¹ mod r
        # r | start + 2j  ⇔  j ≡ -s/2;   r | 2(start + 2j) + 1  ⇔  j ≡ -(2s + 1)/4 (mod r)
        for j in ((-s * half) % r, (-(2 * s + 1) * half * half) % r):
            if j < window:
                alive[j::r] = zeros[: (window - 1 - j) // r + 1]
    return alive


def random_safe_prime(bits: int, entropy: Entropy) -> int:
    """A safe prime ``p = 2p' + 1`` of exactly ``bits`` bits, its top two bits set."""
    if bits < 64:
        raise CryptoError("safe primes for Paillier have at least 64 bits")
    two = gmpy2.mpz(2)
    while True:
        start = random_bits(bits - 1, entropy) | (3 << (bits - 3)) | 1
        alive = _sieve_window(start)
        j = alive.find(1)
        while j >= 0:
            x = gmpy2.mpz(start + 2 * j)
            p = 2 * x + 1
            if (
                p.bit_length() == bits
                and gmpy2.powmod(two, x - 1, x) == 1
                and gmpy2.powmod(two, 2 * x, p) == 1
                and gmpy2.is_prime(x, _MILLER_RABIN_ROUNDS)
                and gmpy2.is_prime(p, _MILLER_RABIN_ROUNDS)
            ):
                return int(p)
            j = alive.find(1, j + 1)


def is_safe_prime(p: int) -> bool:
    """Whether ``p`` and ``(p - 1)/2`` are both (probable, 40 rounds) primes."""
    return (
        p > 7
        and p % 2 == 1
        and bool(gmpy2.is_prime(p, _MILLER_RABIN_ROUNDS))
        and bool(gmpy2.is_prime((p - 1) // 2, _MILLER_RABIN_ROUNDS))
    )


def deal(*, key_bits: int, silos: int, threshold: int, entropy: Entropy) -> DealtKey:
    """Draw two distinct safe primes of ``key_bits / 2`` bits, then :func:`deal_from_primes`."""
    if key_bits % 2 or key_bits < MIN_KEY_BITS:
        raise CryptoError(f"key_bits must be even and at least {MIN_KEY_BITS}, not {key_bits}")
    _check_counts(silos, threshold)
    p = random_safe_prime(key_bits // 2, entropy)
    q = p
    while q == p:
        q = random_safe_prime(key_bits // 2, entropy)
    return deal_from_primes(p, q, silos=silos, threshold=threshold, entropy=entropy)


def deal_from_primes(p: int, q: int, *, silos: int, threshold: int, entropy: Entropy) -> DealtKey:
    """Deal a ``threshold``-of-``silos`` key for ``N = pq`` (safe primes, distinct, same size).

    ``v`` is the square of a uniform unit mod ``N²``; the coefficients ``a_k`` are
    uniform in ``Z_{NM}``; last, the obfuscator base ``h_s = (-x²)^N mod N²`` for a
    uniform unit ``x`` mod ``N``. Raises :class:`CryptoError` on anything else.
    """
    _check_counts(silos, threshold)
    if p == q or p.bit_length() != q.bit_length():
        raise CryptoError("the two Paillier primes must be distinct and of the same size")
    if not (is_safe_prime(p) and is_safe_prime(q)):
        raise CryptoError("the Paillier primes must be safe primes p = 2p' + 1")
    n, m = p * q, ((p - 1) // 2) * ((q - 1) // 2)
    public = PaillierPublicKey(n)
    if math.gcd(n, m) != 1:  # cannot happen for same-size safe primes; cheap to be sure
        raise CryptoError("gcd(N, M) ≠ 1: these primes cannot make a Paillier key")
    nm = n * m
    d = m * pow(m, -1, n)
    assert d % m == 0 and d % n == 1  # the construction, restated
    coefficients = [d] + [random_below(nm, entropy) for _ in range(threshold - 1)]
    values = []
    for i in range(1, silos + 1):
        y = 0
        for c in reversed(coefficients):  # Horner; t is small
            y = (y * i + c) % nm
        values.append(y)
    n2 = gmpy2.mpz(public.n_squared)
    root = random_unit(n, entropy) + n * random_below(n, entropy)  # uniform unit mod N²
    v = gmpy2.powmod(root, 2, n2)
    delta = math.factorial(silos)
    x = gmpy2.mpz(random_unit(n, entropy))  # drawn last: f and v are as before it existed
    obfuscator_root = (-x * x) % n
    key = ThresholdKey(
        public=public,
        v=int(v),
        verification_keys=tuple(int(gmpy2.powmod(v, delta * s, n2)) for s in values),
        threshold=threshold,
        silos=silos,
        obfuscator_root=int(obfuscator_root),
    )
    return DealtKey(key, tuple(KeyShare(i, s) for i, s in enumerate(values, start=1)))


def check_key_share(key: ThresholdKey, share: KeyShare) -> None:
    """Raise :class:`CryptoError` unless ``v^{Δ s_i} = v_i`` (one full exponentiation).

    A silo runs this once when it loads its secret, so a share that belongs to another
    key is caught before it produces decryption shares that fail their proofs."""
    expected = key.verification_key(share.index)
    n2 = key.public.n_squared
    if not 0 <= share.value < n2 or gmpy2.powmod(key.v, key.delta * share.value, n2) != expected:
        raise CryptoError(f"the key share of silo {share.index} does not match the public key")


def _check_counts(silos: int, threshold: int) -> None:
    if not 1 <= silos <= MAX_SILOS:
        raise CryptoError(f"a threshold key has 1..{MAX_SILOS} silos, not {silos}")
    if not 1 <= threshold <= silos:
        raise CryptoError(f"threshold {threshold} is not in 1..{silos}")
