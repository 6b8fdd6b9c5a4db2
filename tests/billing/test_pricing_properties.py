"""Property-based tests of the pricing arithmetic (no database)."""

from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from billing.pricing import (
    OutcomePrice,
    PeriodCharges,
    PricingModel,
    Tier,
    commit_true_up,
    prepaid_drawdown,
    validate_tiers,
)
from core.money import CURRENCY_MINOR_UNITS, round_money

CURRENCIES = st.sampled_from(["USD", "EUR", "JPY", "KWD", "BHD", "CLP", "GBP"])
PRICES = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)


@st.composite
def tier_lists(draw: st.DrawFn) -> list[Tier]:
    bounds = sorted(set(draw(st.lists(st.integers(1, 200), max_size=4))))
    tiers = [Tier(up_to=bound, unit_price=draw(PRICES), flat_fee=draw(st.sampled_from([Decimal(0), draw(PRICES)])))
             for bound in bounds]
    tiers.append(Tier(up_to=None, unit_price=draw(PRICES), flat_fee=Decimal(0)))
    validate_tiers(tiers)
    return tiers


def charge_all(price: OutcomePrice, count: int, currency: str, *, included: int = 0,
               cap: Decimal | None = None) -> tuple[list[Decimal], PeriodCharges]:
    charges = PeriodCharges(currency=currency, included=included, spend_cap=cap)
    amounts = [charges.price_outcome(1, price, max(count - included, 0))[0] for _ in range(count)]
    return amounts, charges


@given(tiers=tier_lists(), count=st.integers(0, 400))
def test_graduated_charges_each_outcome_at_its_tier(tiers: list[Tier], count: int) -> None:
    amounts, _ = charge_all(OutcomePrice(model=PricingModel.GRADUATED, tiers=tuple(tiers)), count, "USD")
    expected = Decimal(0)
    lower = 0
    for tier in tiers:
        upper = count if tier.up_to is None else min(tier.up_to, count)
        in_tier = max(upper - lower, 0)
        if in_tier:
            # each outcome rounded on its own line; the tier's flat fee rides on its first outcome
            expected += round_money(tier.unit_price + tier.flat_fee, "USD")
            expected += round_money(tier.unit_price, "USD") * (in_tier - 1)
        lower = tier.up_to or lower
    assert sum(amounts, Decimal(0)) == expected


@given(tiers=tier_lists(), count=st.integers(1, 400))
def test_volume_prices_every_outcome_at_the_tier_of_the_total(tiers: list[Tier], count: int) -> None:
    price = OutcomePrice(model=PricingModel.VOLUME, tiers=tuple(tiers))
    amounts, _ = charge_all(price, count, "USD")
    tier = tiers[price.tier_index(count)]
    assert sum(amounts, Decimal(0)) == round_money(tier.unit_price + tier.flat_fee, "USD") + round_money(
        tier.unit_price, "USD") * (count - 1)


@given(size=st.integers(1, 50), package_price=PRICES, count=st.integers(0, 500))
def test_package_charges_whole_packages(size: int, package_price: Decimal, count: int) -> None:
    amounts, _ = charge_all(OutcomePrice(model=PricingModel.PACKAGE, package_size=size, package_price=package_price),
                            count, "EUR")
    packages = -(-count // size)
    assert sum(amounts, Decimal(0)) == round_money(package_price, "EUR") * packages


@given(unit=PRICES, count=st.integers(0, 300), included=st.integers(0, 50), currency=CURRENCIES)
def test_included_outcomes_are_free_and_the_rest_flat(unit: Decimal, count: int, included: int,
                                                      currency: str) -> None:
    amounts, _ = charge_all(OutcomePrice(unit_price=unit), count, currency, included=included)
    assert all(amount == 0 for amount in amounts[:included])
    assert sum(amounts, Decimal(0)) == round_money(unit, currency) * max(count - included, 0)


@given(unit=PRICES, count=st.integers(0, 300), cap=PRICES, currency=CURRENCIES)
def test_spend_cap_is_hard(unit: Decimal, count: int, cap: Decimal, currency: str) -> None:
    cap = round_money(cap, currency)
    amounts, charges = charge_all(OutcomePrice(unit_price=unit), count, currency, cap=cap)
    uncapped = round_money(unit, currency) * count
    assert sum(amounts, Decimal(0)) == min(uncapped, cap)
    assert charges.charged <= cap
    assert all(amount >= 0 for amount in amounts)


@given(amount=st.decimals(min_value=-10**9, max_value=10**9, places=8, allow_nan=False, allow_infinity=False),
       currency=CURRENCIES)
def test_rounding_lands_on_the_minor_unit_half_up(amount: Decimal, currency: str) -> None:
    rounded = round_money(amount, currency)
    places = CURRENCY_MINOR_UNITS[currency]
    assert -rounded.as_tuple().exponent == places  # type: ignore[operator]
    step = Decimal(1).scaleb(-places)
    assert abs(rounded - amount) <= step / 2
    if abs(rounded - amount) == step / 2:
        assert abs(rounded) > abs(amount), "halves go away from zero"


@given(commit=PRICES, charged=PRICES, currency=CURRENCIES)
def test_commit_true_up_tops_up_exactly(commit: Decimal, charged: Decimal, currency: str) -> None:
    charged = round_money(charged, currency)
    true_up = commit_true_up(minimum_commit=commit, charged=charged, currency=currency)
    assert true_up >= 0
    if charged < round_money(commit, currency):
        assert charged + true_up == round_money(commit, currency)
    else:
        assert true_up == 0


@given(balances=st.lists(PRICES, max_size=6), total=PRICES)
def test_prepaid_drawdown_never_overdraws_and_follows_order(balances: list[Decimal], total: Decimal) -> None:
    taken = prepaid_drawdown(balances=balances, total=total)
    assert sum(taken, Decimal(0)) == min(total, sum(balances, Decimal(0)))
    assert all(0 <= take <= balance for take, balance in zip(taken, balances, strict=True))
    for index, take in enumerate(taken):
        if take < balances[index]:
            assert all(later == 0 for later in taken[index + 1:]), "a later grant is touched only when earlier ones are empty"


@settings(max_examples=50)
@given(bounds=st.lists(st.integers(-5, 5), min_size=1, max_size=4))
def test_invalid_tiers_are_refused(bounds: list[int]) -> None:
    tiers = [Tier(up_to=b, unit_price=Decimal(1)) for b in bounds]
    valid = all(b > 0 for b in bounds) and bounds == sorted(set(bounds))
    assume(not valid)
    try:
        validate_tiers(tiers + [Tier(up_to=None, unit_price=Decimal(1))])
    except ValueError:
        return
    raise AssertionError("accepted invalid tiers")
