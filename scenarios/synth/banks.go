package synth

import "math/rand/v2"

// Bank is an Italian bank as the enrollment journey sees it.
type Bank struct {
	ABI    string  // 5-digit bank code
	Name   string  // display name
	Weight float64 // relative share of card holders
}

// Banks lists the banks users are drawn from, weighted roughly by the number
// of retail customers. The real directory has about 470 banks; a few dozen
// carry most holders, and the long tail of cooperative banks is folded into
// the last entries.
var Banks = []Bank{
	{"03069", "Intesa Sanpaolo", 20},
	{"02008", "UniCredit", 13},
	{"07601", "Poste Italiane - BancoPosta", 12},
	{"05034", "Banco BPM", 7},
	{"01030", "Monte dei Paschi di Siena", 5},
	{"05387", "BPER Banca", 5},
	{"01005", "Banca Nazionale del Lavoro", 4},
	{"06230", "Credit Agricole Italia", 3.5},
	{"03032", "Credito Emiliano", 2},
	{"03015", "FinecoBank", 2},
	{"03062", "Banca Mediolanum", 2},
	{"03475", "ING Bank", 1.5},
	{"05696", "Banca Popolare di Sondrio", 1.5},
	{"03268", "Banca Sella", 1.2},
	{"03058", "CheBanca!", 1},
	{"03104", "Deutsche Bank", 1},
	{"05428", "Banca Popolare di Bari", 0.8},
	{"06175", "Banca Carige", 0.8},
	{"03111", "UBI Banca", 0.8},
	{"05584", "Banca Popolare di Milano", 0.6},
	{"03440", "Banco di Desio e della Brianza", 0.5},
	{"05748", "Banca Popolare Pugliese", 0.4},
	{"06270", "Cassa di Risparmio di Asti", 0.4},
	{"05424", "Banca Popolare del Frusinate", 0.3},
	{"08000", "ICCREA Banca", 1},
	{"08327", "Banca di Credito Cooperativo di Roma", 0.8},
	{"08440", "Credito Cooperativo Centro Calabria", 0.3},
	{"08549", "Cassa Rurale di Trento", 0.4},
	{"08899", "BCC di Treviglio", 0.3},
	{"08904", "Banca Prealpi SanBiagio", 0.3},
	{"08307", "Banca di Credito Cooperativo di Brescia", 0.3},
	{"08454", "BCC di Carate Brianza", 0.3},
	{"36000", "Nexi Payments", 0.5},
	{"03599", "Cassa Centrale Banca", 0.5},
}

var bankCumulative = func() []float64 {
	c := make([]float64, len(Banks))
	total := 0.0
	for i, b := range Banks {
		total += b.Weight
		c[i] = total
	}
	return c
}()

// PickBank draws a bank from Banks in proportion to its weight.
func PickBank(r *rand.Rand) Bank {
	x := r.Float64() * bankCumulative[len(bankCumulative)-1]
	lo, hi := 0, len(bankCumulative)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if bankCumulative[mid] > x {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return Banks[lo]
}

// BankByABI returns the bank with code abi, and whether there is one.
func BankByABI(abi string) (Bank, bool) {
	for _, b := range Banks {
		if b.ABI == abi {
			return b, true
		}
	}
	return Bank{}, false
}
